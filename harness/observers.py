"""Observers: who holds the virtual IPs, what each replica holds, how far behind a replica is.

They look at the cluster without changing it: interfaces through ``docker exec ip``, mailboxes
through IMAP on each node's own address (not the VIP), read-only SELECTs.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import docker
from .clients import imap as imap_mod
from .clients.imap import Imap
from .clients.smtp import SmtpClient
from .history import History


class VipObserver:
    """Watches every node's addresses with ``ip monitor`` in its network namespace (run from the
    host with nsenter, so it costs nothing inside the node and sees each change at once, with the
    kernel event's time), and each node's container state. Records ``vip-holders`` on every change:
    ``holders`` = nodes that have the VIP configured and are running; a paused node that still has it
    configured is listed under ``frozen`` (it can answer nobody), a stopped one under ``unreachable``."""

    def __init__(self, topo, history: History, state_interval: float = 0.2):
        self.topo = topo
        self.h = history
        self.state_interval = state_interval
        self.addrs: dict[str, set] = {n: set() for n in topo.node_names}
        self.status: dict[str, str] = {n: "unknown" for n in topo.node_names}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, object] = {}
        self._last = None
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._last_t = 0.0
        # wall clock -> history time (containers share the host's clock)
        self._offset = time.time() - time.monotonic()

    def _t(self, wall: float) -> float:
        return wall - self._offset - self.h.t0

    def _pid(self, node: str) -> int:
        try:
            r = docker.run(["inspect", "-f", "{{.State.Pid}}", self.topo.container(node)], check=False, timeout=5)
            return int(r.out.strip()) if r.ok else 0
        except Exception:  # a wiped node has no container until it is recreated
            return 0

    def _monitor(self, node: str):
        import datetime as dt
        import subprocess

        vips = set(self.topo.vips)
        while not self._stop.is_set():
            pid = self._pid(node)
            if not pid:
                with self._lock:
                    self.addrs[node] = set()
                self._record(time.time())
                self._stop.wait(0.1)
                continue
            p = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "ip", "-ts", "-o", "monitor", "address"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            # our monitor keeps a dead node's namespace alive: _states ends it when the pid changes
            self._procs[node] = (pid, p)
            snap = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "-4", "addr", "show"],
                                  capture_output=True, text=True, timeout=10)
            with self._lock:
                self.addrs[node] = {ln.split()[3].split("/")[0] for ln in snap.stdout.splitlines()
                                    if len(ln.split()) > 3} & vips
            self._record(time.time())
            for line in p.stdout:
                if not line.startswith("["):
                    continue
                stamp, _, rest = line[1:].partition("]")
                try:
                    wall = dt.datetime.fromisoformat(stamp).timestamp()
                except ValueError:
                    wall = time.time()
                f = rest.split()
                deleted = f[:1] == ["Deleted"]
                if deleted:
                    f = f[1:]
                if len(f) < 4 or f[2] != "inet":
                    continue
                ip = f[3].split("/")[0]
                if ip not in vips:
                    continue
                with self._lock:
                    (self.addrs[node].discard if deleted else self.addrs[node].add)(ip)
                self._record(wall)
            p.wait()
            # the namespace went away (killed/stopped node) or we are stopping
            with self._lock:
                self.addrs[node] = set()
            self._record(time.time())
            self._stop.wait(0.1)

    def _states(self):
        names = {self.topo.container(n): n for n in self.topo.node_names}
        while not self._stop.is_set():
            r = docker.run(["inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.Pid}}", *names], check=False, timeout=5)
            changed = False
            pids = {}
            for ln in r.out.splitlines():
                cname, _, rest = ln.strip().lstrip("/").partition(" ")
                st, _, pid = rest.partition(" ")
                node = names.get(cname)
                if node:
                    pids[node] = int(pid or 0)
                if node and self.status.get(node) != st:
                    with self._lock:
                        self.status[node] = st
                    changed = True
            for cname, node in names.items():  # a removed container (wipe) is not in the output
                if cname not in r.out and self.status.get(node) != "removed":
                    with self._lock:
                        self.status[node] = "removed"
                    changed = True
            for node, (mpid, proc) in list(self._procs.items()):
                if pids.get(node, 0) != mpid and proc.poll() is None:
                    proc.terminate()  # the node died or was restarted: re-attach to its new namespace
            if changed:
                self._record(time.time())
            self._stop.wait(self.state_interval)

    def _record(self, wall: float, force: bool = False):
        with self._lock:
            by_vip = {}
            for v in self.topo.vips:
                have = [n for n in self.topo.node_names if v in self.addrs[n]]
                by_vip[v] = {"holders": sorted(n for n in have if self.status.get(n) in ("running", "unknown")),
                             "frozen": sorted(n for n in have if self.status.get(n) == "paused")}
            unreachable = sorted(n for n, st in self.status.items() if st not in ("running", "unknown"))
            key = (repr(by_vip), tuple(unreachable))
            if key == self._last and not force:
                return
            self._last = key
        with self._write:  # several threads observe; each invoke/ok pair must stay together
            # each node's events arrive in order, but one node's may be processed after another's
            # later event: the combined state is only true from the moment it was computed on, so
            # times never go backwards (the error is the processing delay, milliseconds)
            t = max(min(self._t(wall), self.h.now()), self._last_t)
            self._last_t = t
            for vip, d in by_vip.items():
                self.h.invoke("observer-vip", "vip-holders", {"vip": vip}, t=t)
                self.h.ok("observer-vip", "vip-holders", {"vip": vip, **d, "unreachable": unreachable}, t=t)

    def holders(self, vip: str | None = None) -> list[str]:
        vip = vip or self.topo.vips[0]
        with self._lock:
            return sorted(n for n in self.topo.node_names if vip in self.addrs[n] and self.status.get(n) == "running")

    def start(self):
        for node in self.topo.node_names:
            t = threading.Thread(target=self._monitor, args=(node,), daemon=True, name=f"vip-{node}")
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._states, daemon=True, name="vip-states")
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for _pid, p in list(self._procs.values()):
            try:
                p.terminate()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=10)
        self._record(time.time(), force=True)


def current_holder(topo, vip: str | None = None) -> str | None:
    """The node that holds ``vip`` right now (one docker exec per node)."""
    vip = vip or topo.vips[0]
    for node in topo.nodes:
        try:
            r = docker.run(["exec", topo.container(node), "ip", "-o", "-4", "addr", "show"], check=False, timeout=5)
        except Exception:
            continue
        if r.ok and f" {vip}/" in r.out:
            return node
    return None


# -- replicas --------------------------------------------------------------------------------
def read_replica(topo, node: str, users: dict[str, str] | None = None, timeout: float = 20.0) -> dict:
    """{user: {mailbox: {uidvalidity, messages}}} of one node, read directly over IMAP (only the
    users the node holds: ``Topology.users_of``)."""
    n = topo.nodes[node]
    held = topo.users_of(node)
    if users is None:
        users = held
    elif "users" in n.meta:  # a node that holds only some users is not asked for the others
        users = {u: pw for u, pw in users.items() if u in held}
    _node, boxes = imap_mod.read_all(n.lan, 143, users, topo.node_names, timeout)
    return boxes


def final_reads(topo, history: History, users: dict[str, str] | None = None) -> dict[str, dict]:
    """Read every data node in full and record one ``final-read`` per node."""
    out = {}
    for n in topo.data_nodes():
        proc = f"final-{n.name}"
        history.invoke(proc, "final-read", {"node": n.name})
        try:
            boxes = read_replica(topo, n.name, users)
        except Exception as e:
            history.fail(proc, "final-read", {"node": n.name}, error=f"{type(e).__name__}: {e}"[:200])
            continue
        history.ok(proc, "final-read", {"node": n.name, "mailboxes": boxes}, node=n.name)
        out[n.name] = boxes
    return out


def fingerprint(boxes: dict) -> dict:
    """What must be identical across replicas: per user/mailbox uidvalidity and (uid, token, flags)."""
    return {u: {mb: (r["uidvalidity"], tuple((m["uid"], m["token"], tuple(m["flags"])) for m in r["messages"]))
                for mb, r in sorted(mbs.items())} for u, mbs in sorted(boxes.items())}


def differences(reads: dict[str, dict]) -> list[str]:
    """Human-readable differences between replicas' fingerprints (empty = identical)."""
    fps = {n: fingerprint(b) for n, b in reads.items()}
    names = sorted(fps)
    out = []
    for other in names[1:]:
        a, b = fps[names[0]], fps[other]
        for user in sorted(set(a) | set(b)):
            for mb in sorted(set(a.get(user, {})) | set(b.get(user, {}))):
                x, y = a.get(user, {}).get(mb), b.get(user, {}).get(mb)
                if x != y:
                    nx = len(x[1]) if x else 0
                    ny = len(y[1]) if y else 0
                    out.append(f"{user}/{mb}: {names[0]} {nx} msgs vs {other} {ny} msgs")
    return out


def wait_converged(topo, history: History, after: str, deadline_s: float, users=None,
                   poll: float = 0.3, progress=None) -> dict:
    """Poll the data nodes until they read identical; record a ``converge`` op. Nothing to wait
    for (no op recorded) when no user is held by two data nodes (one store per user)."""
    held = [set(topo.users_of(n.name)) for n in topo.data_nodes()]
    if not any(a & b for i, a in enumerate(held) for b in held[i + 1:]):
        return {"seconds": 0.0, "identical": True, "replicated": False}
    proc = "observer-converge"
    t0 = time.monotonic()
    history.invoke(proc, "converge", {"after": after})
    last = ["not read yet"]
    while True:
        try:
            with ThreadPoolExecutor(max_workers=4) as ex:
                futs = {n.name: ex.submit(read_replica, topo, n.name, users) for n in topo.data_nodes()}
                reads = {k: f.result() for k, f in futs.items()}
            last = differences(reads)
            if not last:
                secs = time.monotonic() - t0
                history.ok(proc, "converge", {"after": after, "seconds": round(secs, 3), "identical": True})
                return {"seconds": secs, "identical": True}
        except Exception as e:  # a node still coming up: keep polling until the deadline
            last = [f"read failed: {type(e).__name__}: {e}"[:200]]
        elapsed = time.monotonic() - t0
        if elapsed > deadline_s:
            history.fail(proc, "converge", {"after": after, "seconds": round(elapsed, 3), "identical": False,
                                            "differences": last[:20]}, error=f"not identical after {deadline_s:.0f} s")
            return {"seconds": elapsed, "identical": False, "differences": last}
        if progress:
            progress.status(f"waiting for replicas to converge ({elapsed:.1f} s): {last[0][:80]}")
        time.sleep(poll)


# -- replication lag ---------------------------------------------------------------------------
class LagProbe:
    """Deliver a message to one node directly, then watch both nodes with open IMAP connections;
    the lag is the time from visible on the source to visible on the peer."""

    def __init__(self, topo, history: History, user: str, password: str, rng: random.Random, run_tag: str):
        self.topo = topo
        self.h = history
        self.user, self.password = user, password
        self.rng = rng
        self.tag = run_tag
        self.n = 0

    def sample(self, src: str, dst: str, timeout: float = 10.0) -> float | None:
        self.n += 1
        token = f"mh-{self.tag}-lag{self.n}"
        proc = "lag-0"
        a, b = self.topo.nodes[src], self.topo.nodes[dst]
        seen: dict[str, float] = {}

        def watch(node, addr):
            try:
                with Imap(addr, 143, self.user, self.password, self.topo.node_names, timeout) as c:
                    c.c.select_folder("INBOX", readonly=True)
                    end = time.monotonic() + timeout
                    while time.monotonic() < end:
                        if c.c.search(["HEADER", "X-Mailha-Token", token]):
                            seen[node] = time.monotonic()
                            return
                        c.c.noop()
                        time.sleep(0.01)
            except Exception:
                return

        threads = [threading.Thread(target=watch, args=(src, a.lan)), threading.Thread(target=watch, args=(dst, b.lan))]
        for t in threads:
            t.start()
        time.sleep(0.05)
        sent = SmtpClient(self.h, "lag-smtp", self.topo.node_names, timeout=5).send(a.lan, 25, token, self.user)
        for t in threads:
            t.join(timeout + 2)
        self.h.invoke(proc, "lag", {"token": token, "from": src, "to": dst})
        if sent == "ok" and src in seen and dst in seen:
            lag = max(0.0, seen[dst] - seen[src])
            self.h.ok(proc, "lag", {"token": token, "from": src, "to": dst, "seconds": round(lag, 4)})
            return lag
        self.h.fail(proc, "lag", {"token": token, "from": src, "to": dst}, error=f"send {sent}, seen on {sorted(seen)}")
        return None
