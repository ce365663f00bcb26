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
from .errors import HostError, WaitTimeout
from .history import History
from .wait import Not, describe, until


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
        self._blind: set[str] = set()  # sources ("states", a node) whose last read failed
        # wall clock -> history time (containers share the host's clock)
        self._offset = time.time() - time.monotonic()

    def _t(self, wall: float) -> float:
        return wall - self._offset - self.h.t0

    def _pid(self, node: str) -> int:
        """The node's pid, 0 when it has no container (a wiped node until it is recreated); an
        inspect that fails otherwise or times out raises (a failed observation, not "no holder")."""
        try:
            container = self.topo.container(node)
        except HostError as e:
            if "has no container" in str(e):  # removed (a wipe) and not yet recreated: nobody there
                return 0
            raise
        info = docker.inspect(container, "container", timeout=5)  # HostError when the engine does not answer
        return int((info[0].get("State") or {}).get("Pid") or 0) if info else 0

    def _monitor(self, node: str):
        """One node's addresses, for as long as the observer runs: an error (e.g. ``nsenter`` or
        ``ip`` not answering) is recorded as a failed observation and the watch starts again."""
        while not self._stop.is_set():
            began = time.time()
            try:
                self._watch(node)
            except Exception as e:
                self._failed(node, began, f"vip-{node}: {type(e).__name__}: {e}")
                p = self._procs.pop(node, (0, None))[1]
                if p is not None and p.poll() is None:
                    p.terminate()
                self._stop.wait(0.2)

    def _watch(self, node: str):
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
            if snap.returncode != 0:
                raise RuntimeError(f"ip addr show in {node}'s namespace: {(snap.stderr or '').strip()[:150]}")
            with self._lock:
                self.addrs[node] = {ln.split()[3].split("/")[0] for ln in snap.stdout.splitlines()
                                    if len(ln.split()) > 3} & vips
            self._record(time.time(), force=self._recovered(node))
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
        """Every node's container state, every ``state_interval``: a ``docker inspect`` that fails or
        times out is recorded as a failed observation and the loop goes on (the next good one is
        written even if nothing changed, so the checker sees where the blind stretch ends)."""
        names = {self.topo.container(n): n for n in self.topo.node_names}
        while not self._stop.is_set():
            began = time.time()
            try:
                self._inspect(names)
            except Exception as e:
                self._failed("states", began, f"vip-states: {type(e).__name__}: {e}")
            self._stop.wait(self.state_interval)

    def _inspect(self, names: dict[str, str]):
        infos = docker.inspect(list(names), "container", timeout=5)  # HostError when the engine does not answer
        changed = False
        pids = {}
        seen = set()
        for info in infos:
            cname, st = info.get("Name", "").lstrip("/"), (info.get("State") or {}).get("Status", "")
            node = names.get(cname)
            seen.add(cname)
            if node:
                pids[node] = int((info.get("State") or {}).get("Pid") or 0)
            if node and self.status.get(node) != st:
                with self._lock:
                    self.status[node] = st
                changed = True
        for cname, node in names.items():  # a removed container (wipe) is not in the answer
            if cname not in seen and self.status.get(node) != "removed":
                with self._lock:
                    self.status[node] = "removed"
                changed = True
        for node, (mpid, proc) in list(self._procs.items()):
            if pids.get(node, 0) != mpid and proc.poll() is None:
                proc.terminate()  # the node died or was restarted: re-attach to its new namespace
        force = self._recovered("states")
        if changed or force:
            self._record(time.time(), force=force)

    def _failed(self, source: str, began: float, error: str):
        """A failed ``vip-holders`` observation of every VIP, from when the failing read began. The
        observer is blind (it writes no observation) until every failed source has read again;
        then the current state is written even if nothing changed, ending the blind stretch."""
        with self._write:
            t = max(min(self._t(began), self.h.now()), self._last_t)
            self._last_t = t
            with self._lock:
                self._blind.add(source)
            for vip in self.topo.vips:
                self.h.invoke("observer-vip", "vip-holders", {"vip": vip}, t=t)
                self.h.fail("observer-vip", "vip-holders", {"vip": vip}, error=error[:200])

    def _recovered(self, source: str) -> bool:
        """``source`` read successfully: True when that ended the observer's blindness."""
        with self._lock:
            was = bool(self._blind)
            self._blind.discard(source)
            return was and not self._blind

    def _record(self, wall: float, force: bool = False):
        with self._lock:
            if self._blind and not force:
                return  # blind: what we hold may be stale; the recovering source writes the state
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
        if not self._blind:  # a blind observer's last state is not known: the blind stretch runs to the end
            self._record(time.time(), force=True)


def current_holder(topo, vip: str | None = None) -> str | None:
    """The node that holds ``vip`` right now (one docker exec per node)."""
    vip = vip or topo.vips[0]
    for node in topo.nodes:
        try:
            r = docker.exec_(topo.container(node), ["ip", "-o", "-4", "addr", "show"], timeout=5)
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
                   poll: float = 0.3, progress=None, started_at: float | None = None) -> dict:
    """Poll the data nodes until they read identical; record a ``converge`` op
    ``{after, seconds, identical, replicated: True, started_at}``.

    ``started_at`` (history time, e.g. when the heal or restart was invoked): ``seconds`` is
    counted from it — the resync the claim describes starts at the restart, not when the node
    is ready; without it, from this call. The polling deadline counts from this call.

    When no user is held by two data nodes (one store per user) there is nothing to compare:
    an ``ok`` op ``{after, replicated: False}`` is recorded (the convergence checker counts it
    as no evidence) and ``{"seconds": None, "identical": None, "replicated": False}`` returned."""
    proc = "observer-converge"
    held = [set(topo.users_of(n.name)) for n in topo.data_nodes()]
    if not any(a & b for i, a in enumerate(held) for b in held[i + 1:]):
        history.invoke(proc, "converge", {"after": after})
        history.ok(proc, "converge", {"after": after, "replicated": False, "identical": None, "seconds": None})
        return {"seconds": None, "identical": None, "replicated": False}
    history.invoke(proc, "converge", {"after": after})
    origin = history.now() if started_at is None else float(started_at)
    since = {"started_at": round(origin, 6), "replicated": True}
    t0 = time.monotonic()

    def identical():
        with ThreadPoolExecutor(max_workers=4) as ex:
            futs = {n.name: ex.submit(read_replica, topo, n.name, users) for n in topo.data_nodes()}
            reads = {k: f.result() for k, f in futs.items()}
        diff = differences(reads)
        return True if not diff else Not("; ".join(diff[:20]))

    def status(last):
        if progress:
            progress.status(f"waiting for replicas to converge ({time.monotonic() - t0:.1f} s): {describe(last)[:80]}")
    try:  # a read that fails (a node still coming up) means "not yet", until the deadline
        until(identical, timeout=deadline_s, interval=poll, what="the replicas to read identical", on_retry=status)
    except WaitTimeout as e:
        secs = history.now() - origin
        last = e.last.reason.split("; ") if isinstance(e.last, Not) else [describe(e.last)]
        history.fail(proc, "converge", {"after": after, "seconds": round(secs, 3), "identical": False,
                                        "differences": last[:20], **since},
                     error=f"not identical after {deadline_s:.0f} s")
        return {"seconds": secs, "identical": False, "differences": last, "replicated": True}
    secs = history.now() - origin
    history.ok(proc, "converge", {"after": after, "seconds": round(secs, 3), "identical": True, **since})
    return {"seconds": secs, "identical": True, "replicated": True}


# -- replication lag ---------------------------------------------------------------------------
class LagProbe:
    """Deliver a message to one node directly, then watch both nodes with open IMAP connections;
    the lag is the time from visible on the first node to visible on the other. The first is not
    always the node the message was sent to: a cluster whose MTAs deliver to the active node
    (the mirror's reference) saves it there, and the lag is its replication to the source."""

    def __init__(self, topo, history: History, user: str, password: str, rng: random.Random, run_tag: str):
        self.topo = topo
        self.h = history
        self.user, self.password = user, password
        self.rng = rng
        self.tag = run_tag
        self.n = 0

    def sample(self, src: str, dst: str, timeout: float = 10.0, idle: bool = False) -> float | None:
        """One sample (a ``lag`` op). ``idle``: the other node is watched the way a mail client
        waits for new mail — an IMAP IDLE, told of the message by the server (``* n EXISTS``), not
        polled — recorded as an ``idle-lag`` op: how long a user sitting in IDLE on one server
        waits for mail saved through another (Dovecot re-checks the mailbox every
        ``mailbox_idle_check_interval``; inotify never sees another server's writes)."""
        self.n += 1
        token = f"mh-{self.tag}-{'idle' if idle else 'lag'}{self.n}"
        proc, op = ("idle-0", "idle-lag") if idle else ("lag-0", "lag")
        a, b = self.topo.nodes[src], self.topo.nodes[dst]
        seen: dict[str, float] = {}
        idling = threading.Event()

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

        def watch_idle(node, addr):
            try:
                with Imap(addr, 143, self.user, self.password, self.topo.node_names, timeout) as c:
                    c.c.select_folder("INBOX", readonly=True)
                    end = time.monotonic() + timeout
                    c.c.idle()
                    idling.set()
                    while time.monotonic() < end:
                        pushed = c.c.idle_check(timeout=max(0.1, end - time.monotonic()))
                        t = time.monotonic()
                        if not any(len(r) > 1 and r[1] == b"EXISTS" for r in pushed):
                            continue
                        c.c.idle_done()
                        if c.c.search(["HEADER", "X-Mailha-Token", token]):
                            seen[node] = t
                            return
                        c.c.idle()  # another message (the workload's): wait on
            except Exception:
                return
            finally:
                idling.set()

        threads = [threading.Thread(target=watch, args=(src, a.lan)),
                   threading.Thread(target=watch_idle if idle else watch, args=(dst, b.lan))]
        for t in threads:
            t.start()
        if idle:
            idling.wait(timeout)  # the message must arrive while the client is in IDLE
        time.sleep(0.05)
        sent = SmtpClient(self.h, "lag-smtp", self.topo.node_names, timeout=5).send(a.lan, 25, token, self.user)
        for t in threads:
            t.join(timeout + 2)
        self.h.invoke(proc, op, {"token": token, "from": src, "to": dst})
        if sent == "ok" and src in seen and dst in seen:
            first = src if seen[src] <= seen[dst] else dst
            lag = abs(seen[dst] - seen[src])
            self.h.ok(proc, op, {"token": token, "from": src, "to": dst, "first": first, "seconds": round(lag, 4)})
            return lag
        self.h.fail(proc, op, {"token": token, "from": src, "to": dst}, error=f"send {sent}, seen on {sorted(seen)}")
        return None
