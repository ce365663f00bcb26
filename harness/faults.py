"""The fault catalogue, and the nemesis that applies it to a running cluster.

Each fault is defined once, in ``CATALOGUE``: its parameters (names, defaults, and the ranges
or choices a chaos schedule draws from), the kinds of target it applies to, what it does to
them (``mode``, for the schedule's composition rules), how long a chaos run holds it, and the
two functions that apply and heal it. The chaos schedule (chaos/schedule.py), the nemesis below
and the chaos runner read this one definition; nothing maps names or renames parameters.

Target kinds (harness.topology.node_kinds): ``node`` any server; ``daemon`` a server that runs
the design's ``daemons``; ``directory``, ``nas`` (and ``lb``) servers of those tiers; ``link`` a
link of ``x-mailha.links``. ``vip-holder`` and ``not-vip-holder`` are selectors the nemesis
resolves to a node when it applies the fault.

Every fault is confirmed applied and confirmed healed **for the kind of its target**: a node
"stops answering" and "answers again" by the probe of what it serves (``x-mailha.nodes.<n>.serves``,
else by tier: a mail node or front proxy IMAP on 143, a directory an LDAP bind on 389, a NAS an
ONC RPC call to glusterd on 24007, a load balancer its client endpoint; harness.topology). An open
port proves nothing — a frozen process's kernel still accepts connections — so each probe needs
a protocol answer. Heals also wait for the node's readiness checks (``x-mailha.ready``).

Network faults run ``iptables``/``ip`` in the node's network namespace from the host
(``nsenter``), not inside the container: that works while the node is paused (so a partition
can be healed during a pause of that node) and needs no tools in the user's images. Link
shaping uses Toxiproxy on the links the design routes through it (``x-mailha.toxiproxy``).

A fault that cannot be applied or healed raises ``FaultError``: the test fails, never passes.
The history gets a ``fault`` op (``{id, fault, target, params[, selector]}``, completed with
``{id, confirmed}``) and a ``heal`` op (``{id}`` / ``{id, confirmed}``); ``confirmed`` is a
sentence saying how it was confirmed.
"""
from __future__ import annotations

import itertools
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from . import docker, readiness
from .docker import LABEL_RUN
from .errors import FaultError, HostError
from .history import NEMESIS, History, heal_proc
from .observers import current_holder
from .wait import Not, WaitTimeout, container_state, until

#: fault ids are unique in a process (one run), so fault windows of different tests never collide
_IDS = itertools.count(1)

#: the kinds of target a fault may name (see the module docstring)
TARGET_KINDS = ("node", "daemon", "lb", "directory", "nas", "link")
#: selectors the nemesis resolves when it applies a fault
APPLY_TIME = ("vip-holder", "not-vip-holder")


# --------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class Param:
    """One parameter of a fault: its name (the same in scripted tests, schedules and the
    history), its default, and what a chaos schedule draws: an integer in ``lo..hi`` or one of
    ``choices`` (the design's ``daemons`` narrow ``daemon``); ``drawn=False`` keeps the default."""
    name: str
    lo: int = 0
    hi: int = 0
    choices: tuple[str, ...] = ()
    unit: str = ""
    default: object = None
    drawn: bool = True


@dataclass(frozen=True)
class Active:
    """A fault the nemesis applied and has not healed yet."""
    id: str
    fault: str
    target: str
    params: dict
    undo: dict = field(default_factory=dict)


Action = Callable[["Nemesis", Active], str]


@dataclass(frozen=True)
class Fault:
    """A kind of fault (see the module docstring).

    ``targets``: target kinds it applies to. ``mode``: what it does to each target while active
    (down | degraded | cut | shaped | stalled; the schedule's composition rules are written in
    modes). ``duration``: seconds a chaos run holds it, None for faults a schedule never draws
    (``wipe`` loses data on purpose). ``sets``: a schedule may hit a minority of one tier with it
    at once. ``apply``/``heal`` do it and return how it was confirmed.
    """
    name: str
    targets: tuple[str, ...]
    mode: str
    apply: Action
    heal: Action
    duration: tuple[float, float] | None
    params: tuple[Param, ...] = ()
    sets: bool = False
    summary: str = ""
    confirmed_by: str = ""

    @property
    def scheduled(self) -> bool:
        return self.duration is not None

    @property
    def on_nodes(self) -> bool:
        return "link" not in self.targets

    def bind(self, params: dict) -> dict:
        """``params`` with the defaults filled in; a name the fault does not have is refused."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            have = ", ".join(known) or "none"
            raise FaultError(f"fault {self.name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters: {have}.")
        return {**{n: p.default for n, p in known.items()}, **params}


# --------------------------------------------------------------------------- the nemesis

class Nemesis:
    """Applies and heals faults on one cluster, recording ``fault``/``heal`` ops in the history.

    ``probe(spec, timeout=...)`` answers a node's ``serves`` spec or raises (default:
    harness.readiness.check); tests inject their own.
    """

    #: a VIP can be between holders for a moment (a handover, or a health check that flapped on
    #: a loaded host), and one ``docker exec`` can time out; a selector waits this long for a holder
    HOLDER_WAIT = 15.0

    #: runc's cgroup-v1 freezer gives up ("unable to freeze") when a task stays in
    #: uninterruptible sleep through its short loop — seen when the host's disk stalls for a
    #: second or two under fsync load. runc thaws the cgroup again on that error, so a retry is
    #: safe; the fault is recorded as applied only once the node is really frozen.
    PAUSE_TRIES = 6

    def __init__(self, cluster, topo, history: History, progress=None, probe=None):
        self.cluster = cluster
        self.topo = topo
        self.h = history
        self.progress = progress
        self.probe = probe or readiness.check
        self.active: dict[str, Active] = {}

    # -- public API -------------------------------------------------------------------------------
    def resolve(self, target: str) -> str:
        """Concrete target for a selector: ``vip-holder``, ``not-vip-holder`` (of the design's first
        virtual IP; ``vip-holder:10.238.0.210`` names another) or a name."""
        sel, _, vip = target.partition(":")
        if sel in APPLY_TIME:
            holder = self._holder(vip or None)
            if holder is None:
                raise FaultError(f"no node held the virtual IP{' ' + vip if vip else ''} for {self.HOLDER_WAIT:.0f} s, "
                                 f"so the target {target!r} cannot be chosen.")
            if sel == "vip-holder":
                return holder
            others = [n for n in self.topo.node_names if n != holder]
            if not others:
                raise FaultError("there is no node besides the VIP holder.")
            return others[0]
        return target

    def apply(self, fault: str, target: str, **params) -> str:
        f = CATALOGUE.get(fault)
        if f is None:
            raise FaultError(f"unknown fault {fault!r}; the faults are: {', '.join(CATALOGUE)}.")
        bound = f.bind(params)
        fid = f"f{next(_IDS)}"
        concrete = self.resolve(target)
        value = {"id": fid, "fault": fault, "target": concrete, "params": params}
        if concrete != target:
            value["selector"] = target
        self.h.invoke(NEMESIS, "fault", value)
        wrong = self.target_problem(f, concrete)
        if wrong:
            self.h.fail(NEMESIS, "fault", value, error=wrong)
            raise FaultError(f"fault {fault} on {concrete} could not be applied: {wrong}")
        act = Active(fid, fault, concrete, bound)
        try:
            confirmed = f.apply(self, act)
        except Exception as e:
            self.h.fail(NEMESIS, "fault", value, error=str(e)[:300])
            # leave nothing half-applied behind
            try:
                f.heal(self, act)
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
        self.h.invoke(heal_proc(fid), "heal", {"id": fid})
        self._confirm_heal(act)

    def _confirm_heal(self, act: Active, failed: Exception | None = None) -> None:
        """Run ``act``'s heal (unless its release already ``failed``) and record the outcome."""
        try:
            if failed is not None:
                raise failed
            confirmed = CATALOGUE[act.fault].heal(self, act)
        except Exception as e:
            self.h.fail(heal_proc(act.id), "heal", {"id": act.id}, error=str(e)[:300])
            self.cluster.dirty = True  # the next test gets a fresh cluster
            raise FaultError(f"heal of {act.fault} on {act.target} failed: {e}") from e
        del self.active[act.id]
        self.h.ok(heal_proc(act.id), "heal", {"id": act.id, "confirmed": confirmed})
        if self.progress:
            self.progress.note(f"healed {act.id}: {act.fault} {act.target} ({confirmed})")

    def heal_together(self, fids: list[str]) -> None:
        """Heal several faults as one event (a whole NAS, every storage node frozen, coming back):
        each heal is invoked, every fault with a quick release (``RELEASES``: a paused node is
        resumed) is released, and only then is each confirmed — one by one, a node's own readiness
        may need the others (a GlusterFS node's ``volume status`` needs its frozen peer: healed
        one by one the first never confirms)."""
        acts = []
        for fid in fids:
            act = self.active.get(fid)
            if act is None:
                raise FaultError(f"no active fault {fid}.")
            acts.append(act)
        for act in acts:
            self.h.invoke(heal_proc(act.id), "heal", {"id": act.id})
        failed: dict[str, Exception] = {}
        for act in acts:
            release = RELEASES.get(act.fault)
            try:
                if release:
                    release(self, act)
            except Exception as e:
                failed[act.id] = e
        for act in acts:
            self._confirm_heal(act, failed.get(act.id))

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

    def target_problem(self, f: Fault, target: str) -> str | None:
        """Why ``f`` cannot hit ``target`` (a name of the wrong kind), or None."""
        if not f.on_nodes:
            links = self.topo.meta.get("links") or {}
            if target not in links:
                return f"{target} is not a link of design {self.topo.design} (links: {', '.join(links) or 'none'})"
            return None
        if target not in self.topo.nodes:
            return f"{target} is not a node of design {self.topo.design} (nodes: {', '.join(self.topo.nodes)})"
        kinds = self.topo.kinds(target)
        if not set(f.targets) & set(kinds):
            return (f"{f.name} applies to {' or '.join(f.targets)} targets, and {target} is a "
                    f"{'/'.join(kinds)} target (tier {self.topo.tier(target) or 'none'})")
        return None

    # -- what a node serves -------------------------------------------------------------------------
    def proto(self, node: str) -> str:
        """``IMAP``, ``LDAP``, ``RPC``…: what ``node`` serves, for confirmations."""
        return str(self.topo.serves(node)["proto"]).upper()

    def answers(self, node: str, timeout: float = 1.0) -> str | None:
        """None when ``node`` answers the probe of what it serves within ``timeout``, else why not."""
        try:
            self.probe(self.topo.serves(node), timeout=timeout)
            return None
        except Exception as e:
            return f"{type(e).__name__}: {e}"[:200]

    def _refuses(self, node: str, after: str, timeout: float = 0.5) -> None:
        if self.answers(node, timeout) is None:
            raise FaultError(f"{node} still answers {self.proto(node)} {after}")

    def _wait_answers(self, node: str, timeout: float) -> None:
        def answered():
            why = self.answers(node)
            return True if why is None else Not(why)
        until(answered, timeout=timeout, interval=0.3, what=f"{node} to answer {self.proto(node)}",
              container=self._c(node))

    def _wait_node_ready(self, node: str, timeout: float = 90) -> str:
        """The node's readiness checks pass and it answers what it serves again."""
        t = time.monotonic()
        self.cluster.wait_ready(deadline=t + timeout, services=[self.topo.nodes[node].service])
        self._wait_answers(node, max(5.0, t + timeout - time.monotonic()))
        return f"{node} answers again after {time.monotonic() - t:.1f} s"

    # -- helpers ------------------------------------------------------------------------------------
    def _c(self, node: str) -> str:
        return self.topo.container(node)

    def _state(self, node: str) -> str:
        return container_state(self._c(node))

    def _until_state(self, node: str, states: tuple[str, ...], timeout: float, after: str) -> None:
        def reached():
            s = self._state(node)
            return s in states or Not(f"{node} is {s}")
        until(reached, timeout=timeout, interval=0.1, what=f"{node} to be {' or '.join(states)} {after}")

    def _holder(self, vip: str | None = None) -> str | None:
        try:
            return until(lambda: current_holder(self.topo, vip) if vip else current_holder(self.topo), timeout=self.HOLDER_WAIT, interval=0.5,
                         what="a node to hold the virtual IP")
        except WaitTimeout:
            return None

    def _pid(self, node: str) -> int:
        info = docker.inspect(self._c(node), "container")
        return int((info[0].get("State") or {}).get("Pid") or 0) if info else 0

    def _netns(self, node: str, cmd: str, timeout: float = 15) -> docker.Result:
        """Run a command in the node's network namespace (works while the node is paused)."""
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

    def _pause(self, target: str) -> int:
        """``docker pause`` with retries on a freezer that could not freeze; the try it took."""
        for i in itertools.count(1):
            try:
                docker.pause(self._c(target), timeout=60)
                return i
            except HostError as e:
                if "unable to freeze" not in str(e) or i == self.PAUSE_TRIES:
                    raise FaultError(f"{e} (after {i} tries)") from e
            time.sleep(0.5 * i)

    def _peer_reachable(self, src: str, dst: str, dst_ip: str) -> bool:
        """From inside ``src``: does ``dst`` answer on ``dst_ip`` what it serves (its greeting,
        for protocols that greet; a completed connection otherwise)?"""
        spec = self.topo.serves(dst)
        port = int(spec.get("port") or readiness.default_port(spec["proto"]))
        banner = BANNERS.get(spec["proto"])
        read = f" && head -c {len(banner)} <&3" if banner else " && echo connected"
        r = docker.exec_(self._c(src), f"timeout 1 bash -c 'exec 3<>/dev/tcp/{dst_ip}/{port}{read}'", timeout=10)
        return r.ok and (r.out.startswith(banner) if banner else "connected" in r.out)

    def _toxi(self):
        from .clients.toxiproxy import Toxiproxy

        t = self.topo.toxiproxy()
        if not t:
            raise FaultError(f"design {self.topo.design} has no Toxiproxy on its links (x-mailha.toxiproxy)")
        return Toxiproxy(f"http://{t['api']['host']}:{t['api']['port']}"), list(t.get("proxies") or [])


#: the first bytes of a protocol's greeting, for reachability checks from inside a node
BANNERS = {"imap": "* OK", "smtp": "220", "pop3": "+OK"}


# --------------------------------------------------------------------------- node faults

def apply_kill(n: Nemesis, a: Active) -> str:
    docker.kill(n._c(a.target), "KILL")
    n._until_state(a.target, ("exited", "dead"), 10, "after SIGKILL")
    n._refuses(a.target, "after SIGKILL")
    return f"container exited, {n.proto(a.target)} refused"


def heal_start(n: Nemesis, a: Active) -> str:
    if n._state(a.target) != "running":
        docker.start(n._c(a.target))
    return n._wait_node_ready(a.target)


def apply_stop(n: Nemesis, a: Active) -> str:
    t = time.monotonic()
    docker.stop(n._c(a.target), int(a.params["grace"]), timeout=60)
    if n._state(a.target) not in ("exited", "dead"):
        raise FaultError(f"{a.target} is {n._state(a.target)} after docker stop")
    n._refuses(a.target, "after docker stop")
    return f"stopped gracefully in {time.monotonic() - t:.1f} s, {n.proto(a.target)} refused"


def apply_pause(n: Nemesis, a: Active) -> str:
    tries = n._pause(a.target)
    if n._state(a.target) != "paused":
        raise FaultError(f"{a.target} is {n._state(a.target)} after docker pause")
    n._refuses(a.target, "while paused")
    return (f"frozen: {n.proto(a.target)} does not answer" + (f" (frozen at try {tries})" if tries > 1 else ""))


def heal_pause(n: Nemesis, a: Active) -> str:
    release_pause(n, a)
    return n._wait_node_ready(a.target)


def release_pause(n: Nemesis, a: Active) -> str:
    """A paused node resumed, not yet confirmed (``heal_pause`` confirms it)."""
    if n._state(a.target) == "paused":
        docker.unpause(n._c(a.target))
    return "resumed"


def apply_wipe(n: Nemesis, a: Active) -> str:
    c = n._c(a.target)
    vols = [m["Name"] for m in (docker.inspect(c, "container")[0].get("Mounts") or []) if m.get("Type") == "volume"]
    n.cluster.keep_logs(n.topo.nodes[a.target].service)
    docker.remove(c)
    for v in vols:
        docker.remove_volume(v)
    left = [v for v in vols if docker.inspect(v, "volume")]
    if left:
        raise FaultError(f"volumes {left} survived the wipe")
    a.undo["volumes"] = vols
    return f"container and {len(vols)} volume(s) removed: {', '.join(vols)}"


def heal_wipe(n: Nemesis, a: Active) -> str:
    if not n.cluster.containers().get(n.topo.nodes[a.target].service):
        n.cluster.recreate(n.topo.nodes[a.target].service)
    return "recreated empty; " + n._wait_node_ready(a.target, timeout=120)


def apply_brick_wipe(n: Nemesis, a: Active) -> str:
    """A storage node's data disk is lost and replaced by an empty one; the node's system (its
    GlusterFS identity and volume configuration) survives. The node is killed, the Docker volume
    under its brick (``x-mailha.nas.brick``, default /bricks) is emptied from a throwaway
    container of the same image, and the node stays down until healed: restarted, it must
    rebuild the brick and heal it from its mirror by itself."""
    c = n._c(a.target)
    info = (docker.inspect(c, "container") or [{}])[0]
    brick = str((n.topo.meta.get("nas") or {}).get("brick") or "/bricks")
    vols = sorted(((m["Destination"], m["Name"]) for m in info.get("Mounts") or []
                   if m.get("Type") == "volume" and (brick + "/").startswith(m["Destination"].rstrip("/") + "/")),
                  key=lambda x: len(x[0]))
    if not vols:
        raise FaultError(f"{a.target} has no Docker volume under its brick {brick}")
    dest, vol = vols[-1]
    docker.kill(c, "KILL")
    n._until_state(a.target, ("exited", "dead"), 10, "after SIGKILL")
    n._refuses(a.target, "after SIGKILL")
    r = docker.run_container(info["Config"]["Image"], ["-c", "find /disk -mindepth 1 -delete && test -z \"$(ls -A /disk)\""],
                             entrypoint="sh", labels={LABEL_RUN: n.cluster.run_id}, volumes={vol: "/disk"},
                             network="none", timeout=120)
    if not r.ok:
        raise FaultError(f"could not empty {vol}: {(r.err or r.out).strip()[-200:]}")
    a.undo["volume"] = vol
    return f"container killed, {n.proto(a.target)} refused, brick volume {vol} ({dest}) emptied"


def apply_daemon_kill(n: Nemesis, a: Active) -> str:
    daemon = a.params["daemon"]
    d = n.topo.daemon(daemon)
    docker.exec_(n._c(a.target), d["kill"], timeout=10)
    until(lambda: not docker.exec_(n._c(a.target), d["status"], timeout=10).ok, timeout=5, interval=0.2,
          what=f"{daemon} on {a.target} to be dead after '{d['kill']}'")
    return f"{daemon} dead, node up"


def heal_daemon_kill(n: Nemesis, a: Active) -> str:
    d = n.topo.daemon(a.params["daemon"])
    if not docker.exec_(n._c(a.target), d["status"], timeout=10).ok:
        r = docker.exec_(n._c(a.target), d["start"], timeout=30)
        if not r.ok:
            raise FaultError(f"'{d['start']}' on {a.target} failed: {(r.err or r.out).strip()[-200:]}")
    return n._wait_node_ready(a.target)


def apply_isolate(n: Nemesis, a: Active) -> str:
    node = n.topo.nodes[a.target]
    iface = n._iface(a.target, node.lan)
    routes = n._netns(a.target, "ip -4 route show").out.splitlines()
    a.undo.update(iface=iface, routes=[r.strip() for r in routes if f"dev {iface}" in r])
    r = n._netns(a.target, f"ip link set {iface} down")
    if not r.ok:
        raise FaultError(f"ip link set {iface} down failed on {a.target}: {r.err.strip()}")
    n._refuses(a.target, f"on {node.lan} with {iface} down")
    return f"{iface} down: {node.lan} unreachable from the LAN"


def heal_isolate(n: Nemesis, a: Active) -> str:
    iface = a.undo.get("iface") or n._iface(a.target, n.topo.nodes[a.target].lan)
    r = n._netns(a.target, f"ip link set {iface} up")
    if not r.ok:
        raise FaultError(f"ip link set {iface} up failed: {r.err.strip()}")
    have = [x.strip() for x in n._netns(a.target, "ip -4 route show").out.splitlines()]
    for route in a.undo.get("routes", []):
        if route not in have:  # a downed link takes its routes (the default route too) with it
            n._netns(a.target, f"ip route replace {route}")
    n._wait_answers(a.target, 15)
    return f"{iface} up, routes restored, reachable"


# --------------------------------------------------------------------------- link faults

def _link(n: Nemesis, link: str) -> tuple[str, list[str]]:
    """(the address key of the link's network in each node's ``x-mailha.nodes`` entry, its nodes).
    A link's ``address`` names that key when it differs from the Docker network's name (design V's
    ``switch1`` is each front end's ``storage`` address)."""
    spec = n.topo.link(link)
    return spec.get("address") or spec.get("network", link), list(spec.get("nodes") or [])


def _link_ends(n: Nemesis, link: str) -> tuple[str, str, str] | None:
    """(one end, the other end, the other end's address) a cut of ``link`` is confirmed between:
    its two nodes; or, for a link cut on one side only (``nodes`` the side the rules go on,
    ``peers`` what they lose: design V's storage network taken away from the front ends), its first
    node and first peer at the peer's own address. None when neither says."""
    key, nodes = _link(n, link)
    peers = list(n.topo.link(link).get("peers") or [])
    if peers and nodes:
        return nodes[0], peers[0], n.topo.serves(peers[0])["host"]
    if len(nodes) == 2:
        return nodes[0], nodes[1], n.topo.address(nodes[1], key)
    return None


def apply_partition(n: Nemesis, a: Active) -> str:
    net, nodes = _link(n, a.target)
    applied = []
    for node in nodes:
        if not n._pid(node):
            continue  # a stopped node: the other side's rules cut the link
        iface = n._iface(node, n.topo.address(node, net))
        tag = f"mailha-{a.id}"
        cmd = (f"iptables -w -I INPUT 1 -i {iface} -m comment --comment {tag} -j DROP && "
               f"iptables -w -I OUTPUT 1 -o {iface} -m comment --comment {tag} -j DROP")
        r = n._netns(node, cmd)
        if not r.ok:
            raise FaultError(f"iptables on {node} failed: {(r.err or r.out).strip()[-200:]}")
        applied.append(node)
    if not applied:
        raise FaultError(f"no running node on link {a.target} to cut it on")
    ends = _link_ends(n, a.target)
    if ends and all(n._state(x) == "running" for x in ends[:2]):
        src, dst, ip = ends
        if n._peer_reachable(src, dst, ip):
            raise FaultError(f"{src} still reaches {ip} over {a.target}")
        return f"black hole both ways on {', '.join(applied)}: {src} cannot reach {dst} at {ip}"
    return f"black hole both ways on {', '.join(applied)}"


def heal_partition(n: Nemesis, a: Active) -> str:
    net, nodes = _link(n, a.target)
    tag = f"mailha-{a.id}"
    for node in nodes:
        if not n._pid(node):
            continue  # a stopped node's rules went with its network namespace
        cmd = (f"iptables -w -S | grep -- '{tag}' | sed 's/^-A /-D /' | "
               f"while read -r rule; do eval iptables -w $rule; done; ! iptables -w -S | grep -q -- '{tag}'")
        r = n._netns(node, cmd)
        if not r.ok:
            raise FaultError(f"could not remove the DROP rules on {node}: {(r.err or r.out).strip()[-200:]}")
    ends = _link_ends(n, a.target)
    if ends and all(n._state(x) == "running" for x in ends[:2]):
        src, dst, ip = ends
        until(lambda: n._peer_reachable(src, dst, ip), timeout=10, interval=0.3,
              what=f"{src} to reach {ip} again after the rules were removed")
        return f"{src} reaches {dst} at {ip} again"
    return "rules removed"


def _add_toxics(n: Nemesis, a: Active, type_: str, attributes: dict) -> str:
    tp, proxies = n._toxi()
    names = []
    for p in proxies:
        for stream in ("upstream", "downstream"):
            name = f"mailha-{a.id}-{stream}"
            tp.add_toxic(p, type_, attributes, stream=stream, name=name)
            names.append((p, name))
    a.undo["toxics"] = names
    listed = {(p, t["name"]) for p in proxies for t in tp.toxics(p)}
    missing = [x for x in names if x not in listed]
    if missing:
        raise FaultError(f"toxics not listed by Toxiproxy after adding them: {missing}")
    return f"{type_} {attributes} on {', '.join(proxies)} (both directions)"


def remove_toxics(n: Nemesis, a: Active) -> str:
    tp, proxies = n._toxi()
    for p, name in a.undo.get("toxics", []):
        if any(t["name"] == name for t in tp.toxics(p)):
            tp.remove_toxic(p, name)
    left = [t["name"] for p in proxies for t in tp.toxics(p) if t["name"].startswith(f"mailha-{a.id}-")]
    if left:
        raise FaultError(f"toxics still present after removal: {left}")
    return "toxics removed"


# Toxiproxy's own attribute names are the parameters' names (latency and jitter in ms, rate in KB/s)
def apply_link_latency(n: Nemesis, a: Active) -> str:
    return _add_toxics(n, a, "latency", {"latency": int(a.params["latency"]), "jitter": int(a.params["jitter"])})


def apply_link_bandwidth(n: Nemesis, a: Active) -> str:
    return _add_toxics(n, a, "bandwidth", {"rate": int(a.params["rate"])})


def apply_link_hold(n: Nemesis, a: Active) -> str:
    return _add_toxics(n, a, "timeout", {"timeout": 0})


# --------------------------------------------------------------------------- the catalogue

_GRACE = Param("grace", unit="s", default=10, drawn=False)
_DAEMON = Param("daemon", choices=("dovecot", "postfix"), default="dovecot")

#: every fault, in the order a schedule lists them (``--faults`` names; groups in ``GROUPS``)
CATALOGUE: dict[str, Fault] = {f.name: f for f in [
    Fault("kill", ("node",), "down", apply_kill, heal_start, (5, 30), sets=True,
          summary="SIGKILL the node's container (a crash), start it again on heal",
          confirmed_by="container exited and what it serves refused; healed: ready and answering"),
    Fault("stop", ("node",), "down", apply_stop, heal_start, (5, 30), (_GRACE,), sets=True,
          summary="stop the node gracefully (TERM, KILL after grace s), start it on heal",
          confirmed_by="container exited and what it serves refused; healed: ready and answering"),
    Fault("pause", ("node",), "down", apply_pause, heal_pause, (3, 20), sets=True,
          summary="freeze the node (docker pause, cgroup freezer), unpause on heal",
          confirmed_by="container paused and what it serves does not answer; healed: ready and answering"),
    Fault("daemon-kill", ("daemon",), "degraded", apply_daemon_kill, heal_daemon_kill, (5, 30), (_DAEMON,),
          summary="SIGKILL one daemon inside the node, which stays up; restart it on heal",
          confirmed_by="the daemon's status command fails; healed: it runs, node ready and answering"),
    Fault("isolate", ("node",), "down", apply_isolate, heal_isolate, (5, 30),
          summary="the node's LAN interface goes down (a pulled cable); up again with its routes on heal",
          confirmed_by="what it serves does not answer on its LAN address; healed: it answers again"),
    Fault("partition", ("link",), "cut", apply_partition, heal_partition, (5, 30),
          summary="black-hole a link both ways (iptables DROP in each node's namespace)",
          confirmed_by="one end cannot reach what the other serves over the link; healed: it can"),
    Fault("link-latency", ("link",), "shaped", apply_link_latency, remove_toxics, (10, 60),
          (Param("latency", 50, 500, unit="ms", default=200), Param("jitter", 0, 50, unit="ms", default=0)),
          summary="Toxiproxy latency toxic on the link, both directions",
          confirmed_by="toxics listed by the Toxiproxy API; healed: none left"),
    Fault("link-bandwidth", ("link",), "shaped", apply_link_bandwidth, remove_toxics, (10, 60),
          (Param("rate", 8, 256, unit="KB/s", default=32),),
          summary="Toxiproxy bandwidth toxic on the link, both directions",
          confirmed_by="toxics listed by the Toxiproxy API; healed: none left"),
    Fault("link-hold", ("link",), "cut", apply_link_hold, remove_toxics, (5, 30),
          summary="Toxiproxy timeout 0 on the link: data stops, connections hang until healed",
          confirmed_by="toxics listed by the Toxiproxy API; healed: none left"),
    Fault("nas-stall", ("nas",), "stalled", apply_pause, heal_pause, (5, 20),
          summary="the NAS freezes (docker pause): its clients hang",
          confirmed_by="container paused and the NAS's RPC service does not answer; healed: it answers"),
    Fault("ldap-down", ("directory",), "down", apply_stop, heal_start, (5, 30), (_GRACE,),
          summary="stop the directory server",
          confirmed_by="container exited and an LDAP bind is refused; healed: LDAP binds again"),
    Fault("brick-wipe", ("nas",), "down", apply_brick_wipe, heal_start, None,
          summary="a storage node's data disk is lost and replaced empty: kill it, empty its brick volume; start on heal",
          confirmed_by="container exited, its RPC service refused, the brick volume empty; healed: ready (brick online)"),
    Fault("wipe", ("node",), "down", apply_wipe, heal_wipe, None,
          summary="the node's disk is lost: kill, remove the container and its volumes; recreate it empty on heal",
          confirmed_by="the volumes are gone; healed: recreated, ready and answering"),
]}

#: quick releases of faults healed together (``Nemesis.heal_together``): done for every fault of
#: the set before any heal is confirmed
RELEASES: dict[str, Action] = {"pause": release_pause, "nas-stall": release_pause}

#: every fault name (what ``Nemesis.apply`` accepts)
FAULTS = tuple(CATALOGUE)

#: names users may type for groups of faults (``--faults link,daemon``)
GROUPS: dict[str, tuple[str, ...]] = {
    "link": ("link-latency", "link-bandwidth", "link-hold"),
    "daemon": ("daemon-kill",),
    "node": ("kill", "stop", "pause"),
    "nas": ("nas-stall",),
    "ldap": ("ldap-down",),
}


def expand(names) -> tuple[str, ...]:
    """Fault names (a list or a comma-separated string, groups allowed) in catalogue order;
    only faults a chaos schedule draws. Raises ValueError naming what is unknown."""
    if isinstance(names, str):
        names = [n for n in names.replace(" ", ",").split(",") if n]
    want: set[str] = set()
    for name in names:
        name = name.strip().lower()
        if name in CATALOGUE and CATALOGUE[name].scheduled:
            want.add(name)
        elif name in GROUPS:
            want.update(GROUPS[name])
        elif name in CATALOGUE:
            raise ValueError(f"fault {name!r} is for scripted tests only; a chaos schedule never draws it.")
        else:
            raise ValueError(f"unknown fault {name!r}; the faults are: "
                             f"{', '.join(n for n, f in CATALOGUE.items() if f.scheduled)} "
                             f"(or the groups {', '.join(GROUPS)}).")
    return tuple(f for f in CATALOGUE if f in want)
