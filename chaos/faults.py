"""The fault catalogue, applied to a running cluster, each confirmed applied and confirmed healed.

| fault          | target          | how                                                      | confirmed by |
|----------------|-----------------|----------------------------------------------------------|--------------|
| kill           | node            | ``docker kill -s KILL`` (a crash)                         | node refuses IMAP |
| stop           | node            | ``docker stop`` (graceful: TERM, then KILL after 10 s)     | container exited |
| pause          | node            | ``docker pause`` (cgroup freezer: the node hangs)          | IMAP connect times out |
| wipe           | node            | kill, remove the container and its volumes (disk lost)     | volume gone |
| daemon-kill    | node + daemon   | the design's kill command for one daemon (node stays up)   | daemon status fails |
| partition      | link            | iptables DROP both ways on each node's link interface      | peer unreachable over it |
| isolate        | node            | the node's LAN interface goes down (a pulled cable)         | node unreachable from the LAN |

Network faults run ``iptables``/``ip`` in the node's network namespace from the host
(``nsenter``), not inside the container: that works while the node is paused (so a partition
can be healed during a pause of that node) and needs no tools in the user's images.
| link-latency   | toxiproxy link  | Toxiproxy ``latency`` toxic, both directions               | toxic listed by the API |
| link-bandwidth | toxiproxy link  | Toxiproxy ``bandwidth`` toxic, both directions             | toxic listed |
| link-hold      | toxiproxy link  | Toxiproxy ``timeout`` 0: data held until healed            | toxic listed |

Heals: start / unpause / recreate, the daemon's start command, rules deleted, link up (routes
restored), toxics removed — each confirmed by the node answering again or the link working.
A fault that cannot be applied or healed raises ``FaultError``: the test fails, never passes.
"""
from __future__ import annotations

import itertools
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from harness import docker
from harness.errors import FaultError, HostError
from harness.history import NEMESIS, History
from harness.observers import current_holder

#: fault ids are unique in a process (one run), so fault windows of different tests never collide
_IDS = itertools.count(1)

NODE_FAULTS = ("kill", "stop", "pause", "wipe", "daemon-kill", "isolate")
LINK_FAULTS = ("partition", "link-latency", "link-bandwidth", "link-hold")
FAULTS = NODE_FAULTS + LINK_FAULTS


def _tcp_greets(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return bool(s.recv(64))
    except OSError:
        return False


def _until(pred, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


@dataclass
class Active:
    id: str
    fault: str
    target: str
    params: dict
    undo: dict = field(default_factory=dict)


class Nemesis:
    """Applies and heals faults on one cluster, recording ``fault``/``heal`` ops in the history."""

    def __init__(self, cluster, topo, history: History, progress=None):
        self.cluster = cluster
        self.topo = topo
        self.h = history
        self.progress = progress
        self.active: dict[str, Active] = {}

    # -- public API -------------------------------------------------------------------------------
    def resolve(self, target: str) -> str:
        """Concrete target for a selector: ``vip-holder``, ``not-vip-holder`` or a name."""
        if target in ("vip-holder", "not-vip-holder"):
            holder = self._holder()
            if holder is None:
                raise FaultError(f"no node held the virtual IP for {self.HOLDER_WAIT:.0f} s, so the target "
                                 f"{target!r} cannot be chosen.")
            if target == "vip-holder":
                return holder
            others = [n for n in self.topo.node_names if n != holder]
            if not others:
                raise FaultError("there is no node besides the VIP holder.")
            return others[0]
        return target

    #: a VIP can be between holders for a moment (a handover, or a health check that flapped on
    #: a loaded host), and one ``docker exec`` can time out; a selector waits this long for a holder
    HOLDER_WAIT = 15.0

    def _holder(self) -> str | None:
        found = []
        _until(lambda: found.append(current_holder(self.topo)) or found[-1] is not None, self.HOLDER_WAIT, 0.5)
        return found[-1]

    def apply(self, fault: str, target: str, **params) -> str:
        if fault not in FAULTS:
            raise FaultError(f"unknown fault {fault!r}; the faults are: {', '.join(FAULTS)}.")
        fid = f"f{next(_IDS)}"
        concrete = self.resolve(target)
        value = {"id": fid, "fault": fault, "target": concrete, "params": params}
        if concrete != target:
            value["selector"] = target
        self.h.invoke(NEMESIS, "fault", value)
        act = Active(fid, fault, concrete, params)
        try:
            confirmed = getattr(self, "_apply_" + fault.replace("-", "_"))(act)
        except Exception as e:
            self.h.fail(NEMESIS, "fault", value, error=str(e)[:300])
            # leave nothing half-applied behind
            try:
                getattr(self, "_heal_" + fault.replace("-", "_"))(act)
            except Exception:
                pass
            raise FaultError(f"fault {fault} on {concrete} could not be applied: {e}") from e
        self.active[fid] = act
        self.h.ok(NEMESIS, "fault", {"id": fid, "confirmed": confirmed})
        if self.progress:
            self.progress.note(f"fault {fid}: {fault} {concrete} {params or ''} ({confirmed})")
        return fid

    def heal(self, fid: str) -> None:
        act = self.active.get(fid)
        if act is None:
            raise FaultError(f"no active fault {fid}.")
        self.h.invoke(NEMESIS, "heal", {"id": fid})
        try:
            confirmed = getattr(self, "_heal_" + act.fault.replace("-", "_"))(act)
        except Exception as e:
            self.h.fail(NEMESIS, "heal", {"id": fid}, error=str(e)[:300])
            self.cluster.dirty = True  # the next test gets a fresh cluster
            raise FaultError(f"heal of {act.fault} on {act.target} failed: {e}") from e
        del self.active[fid]
        self.h.ok(NEMESIS, "heal", {"id": fid, "confirmed": confirmed})
        if self.progress:
            self.progress.note(f"healed {fid}: {act.fault} {act.target} ({confirmed})")

    def heal_all(self) -> None:
        errors = []
        for fid in reversed(list(self.active)):
            try:
                self.heal(fid)
            except FaultError as e:
                errors.append(str(e))
        if errors:
            raise FaultError("; ".join(errors))

    @contextmanager
    def fault(self, fault: str, target: str, **params):
        fid = self.apply(fault, target, **params)
        try:
            yield fid
        finally:
            if fid in self.active:
                self.heal(fid)

    # -- helpers ------------------------------------------------------------------------------------
    def _c(self, node: str) -> str:
        return self.topo.container(node)

    def _state(self, node: str) -> str:
        r = docker.run(["inspect", "-f", "{{.State.Status}}", self._c(node)], check=False)
        return r.out.strip()

    def _node_answers(self, node: str, timeout: float = 1.0) -> bool:
        return _tcp_greets(self.topo.nodes[node].lan, 143, timeout)

    def _wait_node_ready(self, node: str, timeout: float = 90) -> str:
        t = time.monotonic()
        self.cluster.wait_ready(deadline=t + timeout, services=[self.topo.nodes[node].service])
        return f"{node} answers again after {time.monotonic() - t:.1f} s"

    def _pid(self, node: str) -> int:
        r = docker.run(["inspect", "-f", "{{.State.Pid}}", self._c(node)], check=False)
        pid = int(r.out.strip() or 0) if r.ok else 0
        return pid

    def _netns(self, node: str, cmd: str, timeout: float = 15):
        """Run a command in the node's network namespace (works while the node is paused)."""
        import subprocess

        pid = self._pid(node)
        if not pid:
            raise FaultError(f"{node} has no running process (state {self._state(node)})")
        try:
            p = subprocess.run(["nsenter", "-t", str(pid), "-n", "sh", "-c", cmd], capture_output=True,
                               text=True, timeout=timeout)
        except FileNotFoundError:
            raise FaultError("nsenter is missing on this host (Debian: util-linux)") from None
        return docker.Result(p.returncode, p.stdout, p.stderr)

    def _iface(self, node: str, ip: str) -> str:
        r = self._netns(node, "ip -o -4 addr show")
        for ln in r.out.splitlines():
            f = ln.split()
            if len(f) > 3 and f[3].split("/")[0] == ip:
                return f[1]
        raise FaultError(f"{node} has no interface with address {ip}")

    # -- node faults ------------------------------------------------------------------------------
    def _apply_kill(self, a: Active) -> str:
        docker.run(["kill", "-s", "KILL", self._c(a.target)])
        if not _until(lambda: self._state(a.target) in ("exited", "dead"), 10):
            raise FaultError(f"{a.target} still {self._state(a.target)} after SIGKILL")
        if self._node_answers(a.target, 0.5):
            raise FaultError(f"{a.target} still answers IMAP after SIGKILL")
        return "container exited, IMAP refused"

    def _heal_kill(self, a: Active) -> str:
        if self._state(a.target) != "running":
            docker.run(["start", self._c(a.target)])
        return self._wait_node_ready(a.target)

    _heal_stop = _heal_kill

    def _apply_stop(self, a: Active) -> str:
        t = time.monotonic()
        docker.run(["stop", "-t", str(int(a.params.get("grace", 10))), self._c(a.target)], timeout=60)
        if self._state(a.target) not in ("exited", "dead"):
            raise FaultError(f"{a.target} is {self._state(a.target)} after docker stop")
        return f"stopped gracefully in {time.monotonic() - t:.1f} s"

    def _apply_pause(self, a: Active) -> str:
        tries = self._pause(a.target)
        if self._state(a.target) != "paused":
            raise FaultError(f"{a.target} is {self._state(a.target)} after docker pause")
        if self._node_answers(a.target, 0.5):
            raise FaultError(f"{a.target} still answers IMAP while paused")
        return "frozen: IMAP connect times out" + (f" (frozen at try {tries})" if tries > 1 else "")

    #: runc's cgroup-v1 freezer gives up ("unable to freeze") when a task stays in
    #: uninterruptible sleep through its short loop — seen when the host's disk stalls for a
    #: second or two under fsync load. runc thaws the cgroup again on that error, so a retry is
    #: safe; the fault is recorded as applied only once the node is really frozen.
    PAUSE_TRIES = 6

    def _pause(self, target: str) -> int:
        """``docker pause`` with retries on a freezer that could not freeze; the try it took."""
        for i in itertools.count(1):
            try:
                docker.run(["pause", self._c(target)], timeout=60)
                return i
            except HostError as e:
                if "unable to freeze" not in str(e) or i == self.PAUSE_TRIES:
                    raise FaultError(f"{e} (after {i} tries)") from e
            time.sleep(0.5 * i)

    def _heal_pause(self, a: Active) -> str:
        if self._state(a.target) == "paused":
            docker.run(["unpause", self._c(a.target)])
        return self._wait_node_ready(a.target)

    def _apply_wipe(self, a: Active) -> str:
        c = self._c(a.target)
        vols = [m["Name"] for m in (docker.inspect(c)[0].get("Mounts") or []) if m.get("Type") == "volume"]
        docker.run(["rm", "-f", c])
        for v in vols:
            docker.run(["volume", "rm", "-f", v])
        left = [v for v in vols if docker.run(["volume", "inspect", v], check=False).ok]
        if left:
            raise FaultError(f"volumes {left} survived the wipe")
        a.undo["volumes"] = vols
        return f"container and {len(vols)} volume(s) removed: {', '.join(vols)}"

    def _heal_wipe(self, a: Active) -> str:
        if not self.cluster.containers().get(self.topo.nodes[a.target].service):
            self.cluster.recreate(self.topo.nodes[a.target].service)
        return "recreated empty; " + self._wait_node_ready(a.target, timeout=120)

    def _apply_daemon_kill(self, a: Active) -> str:
        daemon = a.params.get("daemon", "dovecot")
        d = self.topo.daemon(daemon)
        docker.exec_(self._c(a.target), d["kill"], timeout=10)
        if not _until(lambda: not docker.exec_(self._c(a.target), d["status"], timeout=10).ok, 5, 0.2):
            raise FaultError(f"{daemon} on {a.target} still runs after '{d['kill']}'")
        return f"{daemon} dead, node up"

    def _heal_daemon_kill(self, a: Active) -> str:
        daemon = a.params.get("daemon", "dovecot")
        d = self.topo.daemon(daemon)
        if not docker.exec_(self._c(a.target), d["status"], timeout=10).ok:
            r = docker.exec_(self._c(a.target), d["start"], timeout=30)
            if not r.ok:
                raise FaultError(f"'{d['start']}' on {a.target} failed: {(r.err or r.out).strip()[-200:]}")
        return self._wait_node_ready(a.target)

    def _apply_isolate(self, a: Active) -> str:
        node = self.topo.nodes[a.target]
        iface = self._iface(a.target, node.lan)
        routes = self._netns(a.target, "ip -4 route show").out.splitlines()
        a.undo.update(iface=iface, routes=[r.strip() for r in routes if f"dev {iface}" in r])
        r = self._netns(a.target, f"ip link set {iface} down")
        if not r.ok:
            raise FaultError(f"ip link set {iface} down failed on {a.target}: {r.err.strip()}")
        if self._node_answers(a.target, 0.5):
            raise FaultError(f"{a.target} still reachable on {node.lan} with {iface} down")
        return f"{iface} down: {node.lan} unreachable from the LAN"

    def _heal_isolate(self, a: Active) -> str:
        iface = a.undo.get("iface") or self._iface(a.target, self.topo.nodes[a.target].lan)
        r = self._netns(a.target, f"ip link set {iface} up")
        if not r.ok:
            raise FaultError(f"ip link set {iface} up failed: {r.err.strip()}")
        have = [x.strip() for x in self._netns(a.target, "ip -4 route show").out.splitlines()]
        for route in a.undo.get("routes", []):
            if route not in have:  # a downed link takes its routes (the default route too) with it
                self._netns(a.target, f"ip route replace {route}")
        if not _until(lambda: self._node_answers(a.target), 15):
            raise FaultError(f"{a.target} not reachable on the LAN after {iface} came back up")
        return f"{iface} up, routes restored, reachable"

    # -- link faults ------------------------------------------------------------------------------
    def _link_nodes(self, link: str) -> tuple[dict, list[str]]:
        spec = self.topo.link(link)
        return spec, list(spec.get("nodes") or [])

    def _running(self, node: str) -> bool:
        return self._state(node) == "running"

    def _peer_reachable(self, src: str, dst_ip: str) -> bool:
        r = docker.exec_(self._c(src), f"timeout 1 bash -c 'exec 3<>/dev/tcp/{dst_ip}/143 && head -c 4 <&3'",
                         timeout=10)
        return r.ok and "OK" in r.out

    def _apply_partition(self, a: Active) -> str:
        spec, nodes = self._link_nodes(a.target)
        net = spec.get("network", a.target)
        applied = []
        for n in nodes:
            if not self._pid(n):
                continue  # a stopped node: the other side's rules cut the link
            iface = self._iface(n, self.topo.address(n, net))
            tag = f"mailha-{a.id}"
            cmd = (f"iptables -w -I INPUT 1 -i {iface} -m comment --comment {tag} -j DROP && "
                   f"iptables -w -I OUTPUT 1 -o {iface} -m comment --comment {tag} -j DROP")
            r = self._netns(n, cmd)
            if not r.ok:
                raise FaultError(f"iptables on {n} failed: {(r.err or r.out).strip()[-200:]}")
            applied.append(n)
        if not applied:
            raise FaultError(f"no running node on link {a.target} to cut it on")
        if len(nodes) == 2 and all(self._running(n) for n in nodes):
            peer_ip = self.topo.address(nodes[1], net)
            if self._peer_reachable(nodes[0], peer_ip):
                raise FaultError(f"{nodes[0]} still reaches {peer_ip} over {a.target}")
            return f"black hole both ways on {', '.join(applied)}: {nodes[0]} cannot reach {peer_ip}"
        return f"black hole both ways on {', '.join(applied)}"

    def _heal_partition(self, a: Active) -> str:
        spec, nodes = self._link_nodes(a.target)
        net = spec.get("network", a.target)
        tag = f"mailha-{a.id}"
        for n in nodes:
            if not self._pid(n):
                continue  # a stopped node's rules went with its network namespace
            cmd = (f"iptables -w -S | grep -- '{tag}' | sed 's/^-A /-D /' | "
                   f"while read -r rule; do eval iptables -w $rule; done; ! iptables -w -S | grep -q -- '{tag}'")
            r = self._netns(n, cmd)
            if not r.ok:
                raise FaultError(f"could not remove the DROP rules on {n}: {(r.err or r.out).strip()[-200:]}")
        if len(nodes) == 2 and all(self._running(n) for n in nodes):
            peer_ip = self.topo.address(nodes[1], net)
            if not _until(lambda: self._peer_reachable(nodes[0], peer_ip), 10, 0.3):
                raise FaultError(f"{nodes[0]} still cannot reach {peer_ip} after the rules were removed")
            return f"{nodes[0]} reaches {peer_ip} again"
        return "rules removed"

    def _toxi(self):
        from chaos.toxiproxy import Toxiproxy

        t = self.topo.toxiproxy()
        if not t:
            raise FaultError(f"design {self.topo.design} has no Toxiproxy on its links (x-mailha.toxiproxy)")
        return Toxiproxy(f"http://{t['api']['host']}:{t['api']['port']}"), list(t.get("proxies") or [])

    def _add_toxics(self, a: Active, type_: str, attributes: dict) -> str:
        tp, proxies = self._toxi()
        names = []
        for p in proxies:
            for stream in ("upstream", "downstream"):
                name = f"mailha-{a.id}-{stream}"
                tp.add_toxic(p, type_, attributes, stream=stream, name=name)
                names.append((p, name))
        a.undo["toxics"] = names
        listed = {(p, t["name"]) for p in proxies for t in tp.toxics(p)}
        missing = [n for n in names if n not in listed]
        if missing:
            raise FaultError(f"toxics not listed by Toxiproxy after adding them: {missing}")
        return f"{type_} {attributes} on {', '.join(proxies)} (both directions)"

    def _remove_toxics(self, a: Active) -> str:
        tp, proxies = self._toxi()
        for p, name in a.undo.get("toxics", []):
            if any(t["name"] == name for t in tp.toxics(p)):
                tp.remove_toxic(p, name)
        left = [t["name"] for p in proxies for t in tp.toxics(p) if t["name"].startswith(f"mailha-{a.id}-")]
        if left:
            raise FaultError(f"toxics still present after removal: {left}")
        return "toxics removed"

    def _apply_link_latency(self, a: Active) -> str:
        return self._add_toxics(a, "latency", {"latency": int(a.params.get("latency_ms", 200)),
                                               "jitter": int(a.params.get("jitter_ms", 0))})

    def _apply_link_bandwidth(self, a: Active) -> str:
        return self._add_toxics(a, "bandwidth", {"rate": int(a.params.get("rate_kbps", 32))})

    def _apply_link_hold(self, a: Active) -> str:
        return self._add_toxics(a, "timeout", {"timeout": 0})

    _heal_link_latency = _remove_toxics
    _heal_link_bandwidth = _remove_toxics
    _heal_link_hold = _remove_toxics
