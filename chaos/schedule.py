"""Seeded, reproducible nemesis schedules.

A schedule says what fault happens where and when in a chaos run. It is generated from one
``random.Random(seed)`` over a *design description*, a plain dict saying what exists::

    {"name": "mirror",                       # optional, shown in describe()
     "nodes": ["mirror-a", "mirror-b"],      # nodes that node faults may hit
     "links": ["crossover"],                 # links that can be cut (iptables) and shaped (Toxiproxy)
     "roles": {"mail": ["mirror-a", "mirror-b"],   # role -> members; groups for the capacity rule
               "vip": ["mirror-a", "mirror-b"],    # who may hold the client VIP (vip-holder selectors)
               "nas": ["nas"], "ldap": ["ldap"]},  # present only where the design has them
     "daemons": ["dovecot", "postfix"]}      # optional: what daemon-kill may kill (this default)

The same seed, options and design give the identical schedule, byte for byte in JSON.
``schedule.json`` is written into the run directory before the run starts; ``load()`` reads
it back for ``mailha chaos --replay RUN_DIR``.

Selectors name a target when only its role is known: ``one-node`` and ``minority`` are
resolved here from the seeded RNG (the concrete names are in ``FaultSpec.target``);
``vip-holder`` and ``not-vip-holder`` are resolved by the nemesis when it applies the fault
(``target`` is None) and it records the concrete node in the history.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1
FILENAME = "schedule.json"


# --------------------------------------------------------------------------- catalogue

@dataclass(frozen=True)
class Param:
    """One parameter of a fault: an integer range or a choice."""
    name: str
    lo: int = 0
    hi: int = 0
    choices: tuple[str, ...] = ()
    unit: str = ""

    def draw(self, rng: random.Random, design: dict):
        if self.name == "daemon":  # the design may narrow the daemons (e.g. a node without Postfix)
            return rng.choice(design.get("daemons") or self.choices)
        if self.choices:
            return rng.choice(self.choices)
        return rng.randint(self.lo, self.hi)


@dataclass(frozen=True)
class FaultType:
    """A kind of fault: what it can hit, for how long, with what, and what it occupies.

    ``mode`` is what the fault does to each resource it targets while active; the composition
    rules (``CLASHES``, ``UNSERVING``) are written in terms of modes.
    """
    name: str
    kinds: tuple[str, ...]           # target kinds: node, nodes (a set), link, nas, ldap
    mode: str                        # down | degraded | cut | shaped | stalled
    duration: tuple[float, float]    # seconds
    params: tuple[Param, ...] = ()
    summary: str = ""


CATALOGUE: dict[str, FaultType] = {f.name: f for f in [
    FaultType("kill", ("node", "nodes"), "down", (5, 30), summary="SIGKILL the node's container, start it again on heal"),
    FaultType("stop", ("node", "nodes"), "down", (5, 30), summary="stop the node gracefully, start it on heal"),
    FaultType("pause", ("node", "nodes"), "down", (3, 20), summary="freeze the node (docker pause), unpause on heal"),
    FaultType("daemon-kill", ("node",), "degraded", (5, 30),
              (Param("daemon", choices=("dovecot", "postfix")),),
              summary="SIGKILL one daemon inside the node, which stays up; restart it on heal"),
    FaultType("isolate", ("node",), "down", (5, 30), summary="black-hole the node's client (LAN) interface"),
    FaultType("partition", ("link", "nodes"), "cut", (5, 30),
              summary="black-hole a link both ways (iptables DROP), or a minority from the rest"),
    FaultType("link-latency", ("link",), "shaped", (10, 60),
              (Param("latency", 50, 500, unit="ms"), Param("jitter", 0, 50, unit="ms")),
              summary="Toxiproxy latency toxic on the link"),
    FaultType("link-bandwidth", ("link",), "shaped", (10, 60), (Param("rate", 8, 256, unit="KB/s"),),
              summary="Toxiproxy bandwidth toxic on the link"),
    FaultType("link-hold", ("link",), "cut", (5, 30),
              summary="Toxiproxy timeout 0 on the link: data stops, connections hang until healed"),
    FaultType("nas-stall", ("nas",), "stalled", (5, 20), summary="the NAS stops answering (its clients hang)"),
    FaultType("ldap-down", ("ldap",), "down", (5, 30), summary="stop the LDAP server"),
]}

#: names users may type for groups of faults (``--faults link,daemon``)
ALIASES: dict[str, tuple[str, ...]] = {
    "link": ("link-latency", "link-bandwidth", "link-hold"),
    "daemon": ("daemon-kill",),
    "node": ("kill", "stop", "pause"),
    "nas": ("nas-stall",),
    "ldap": ("ldap-down",),
}

#: apply-time selectors: the nemesis picks the node when it applies the fault
APPLY_TIME = ("vip-holder", "not-vip-holder")

# Composition rules, as data.
#: pairs of modes that may not hold the same resource at once. On a node: the nemesis must be
#: able to exec into a node to heal an iptables fault, which a pause/kill/stop prevents, and a
#: second "down" fault on a down node cannot be applied. On a link: partition and link-hold
#: both cut it, and healing one would not restore the link.
CLASHES: dict[str, frozenset[frozenset[str]]] = {
    "node": frozenset(frozenset(p) for p in [("down", "down"), ("down", "degraded"), ("down", "cut"), ("cut", "cut")]),
    "link": frozenset(frozenset(p) for p in [("cut", "cut")]),
}
#: node modes that leave a node unable to serve; at most ``capacity(group)`` of a group at once
UNSERVING = frozenset({"down", "degraded"})


def capacity(n: int) -> int:
    """How many of a group of ``n`` nodes may be unable to serve at once: a strict minority,
    but at least one (a 2-node mirror may lose one node, never both)."""
    return max(1, (n - 1) // 2)


def expand_faults(names) -> tuple[str, ...]:
    """Fault names (a list or a comma-separated string, aliases allowed) in catalogue order."""
    if isinstance(names, str):
        names = [n for n in names.replace(" ", ",").split(",") if n]
    want: set[str] = set()
    for n in names:
        n = n.strip().lower()
        if n in CATALOGUE:
            want.add(n)
        elif n in ALIASES:
            want.update(ALIASES[n])
        else:
            raise ValueError(f"unknown fault {n!r}; the faults are: {', '.join(CATALOGUE)} "
                             f"(or the groups {', '.join(ALIASES)}).")
    return tuple(f for f in CATALOGUE if f in want)


# --------------------------------------------------------------------------- designs and selectors

def check_design(design: dict) -> dict:
    """A validated, normalised copy of a design description (see the module docstring)."""
    if not isinstance(design, dict):
        raise ValueError("the design must be a dict with 'nodes', 'links' and 'roles'.")

    def names(v, what):
        if v is None:
            return []
        if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) and x for x in v):
            raise ValueError(f"the design's {what} must be a list of names, not {v!r}.")
        if len(set(v)) != len(v):
            raise ValueError(f"the design's {what} lists a name twice: {list(v)!r}.")
        return list(v)

    out = {"nodes": names(design.get("nodes"), "nodes"), "links": names(design.get("links"), "links")}
    roles = design.get("roles") or {}
    if not isinstance(roles, dict):
        raise ValueError("the design's roles must map a role name to a list of members.")
    out["roles"] = {str(k): names(v, f"role {k!r}") for k, v in sorted(roles.items())}
    for r in ("vip",):
        stray = [n for n in out["roles"].get(r, []) if n not in out["nodes"]]
        if stray:
            raise ValueError(f"role {r!r} names {stray[0]!r}, which is not one of the design's nodes.")
    if "name" in design:
        out["name"] = str(design["name"])
    if design.get("daemons") is not None:
        out["daemons"] = names(design["daemons"], "daemons")
    unknown = set(design) - {"name", "nodes", "links", "roles", "daemons"}
    if unknown:
        raise ValueError(f"the design has unknown keys {sorted(unknown)}; it may have name, nodes, links, roles, daemons.")
    return out


def design_from_meta(meta: dict, name: str | None = None) -> dict:
    """The design description of a compose file's ``x-mailha`` block (harness.designs).

    nodes: the keys of ``nodes``; links: the ``links`` that join named nodes (a link without
    ``nodes``, such as the LAN, is what ``isolate`` cuts, not a link target); roles: ``data``
    (nodes with ``data: true``), ``vip`` (nodes with ``vip: true``, else every node when the
    block lists ``vips``), any node's ``role``, and ``nas``/``ldap`` from blocks of those names
    with a ``service``; daemons: the keys of ``daemons``.
    """
    nodes = meta.get("nodes") or {}
    if isinstance(nodes, list):
        nodes = {n: {} for n in nodes}
    roles: dict[str, list[str]] = {}
    for n, info in nodes.items():
        info = info or {}
        if info.get("data"):
            roles.setdefault("data", []).append(n)
        if info.get("vip"):
            roles.setdefault("vip", []).append(n)
        if info.get("role"):
            roles.setdefault(str(info["role"]), []).append(n)
    if "vip" not in roles and meta.get("vips") and nodes:
        roles["vip"] = list(nodes)
    for r in ("nas", "ldap"):
        if isinstance(meta.get(r), dict) and meta[r].get("service"):
            roles[r] = [meta[r]["service"]]
    design = {"nodes": list(nodes),
              "links": [l for l, info in (meta.get("links") or {}).items() if (info or {}).get("nodes")],
              "roles": roles}
    if name or meta.get("design"):
        design["name"] = name or meta["design"]
    if meta.get("daemons"):
        design["daemons"] = list(meta["daemons"])
    return check_design(design)


def selectors(fault: str, design: dict) -> list[str]:
    """The selectors ``fault`` may use on ``design`` (empty: it does not apply)."""
    ft, nodes, roles = CATALOGUE[fault], design["nodes"], design["roles"]
    out: list[str] = []
    if "node" in ft.kinds and nodes:
        out.append("one-node")
        vip = roles.get("vip") or []
        if vip:
            out.append("vip-holder")
        if len(vip) >= 2:
            out.append("not-vip-holder")
    if "nodes" in ft.kinds and len(nodes) >= 3:  # on two nodes a "minority" is just one-node
        out.append("minority")
    if "link" in ft.kinds:
        out += [f"link:{l}" for l in design["links"]]
    if "nas" in ft.kinds and roles.get("nas"):
        out.append("nas")
    if "ldap" in ft.kinds and roles.get("ldap"):
        out.append("ldap")
    return out


_MISSING = {"node": "no nodes", "nodes": "no nodes", "link": "no links", "nas": "no NAS (roles.nas)",
            "ldap": "no LDAP server (roles.ldap)"}


def _resolve(selector: str, design: dict, rng: random.Random) -> tuple[str, ...] | None:
    nodes = design["nodes"]
    if selector == "one-node":
        return (rng.choice(nodes),)
    if selector == "minority":
        return tuple(sorted(rng.sample(nodes, capacity(len(nodes)))))
    if selector in APPLY_TIME:
        return None
    if selector.startswith("link:"):
        return (selector[5:],)
    return tuple(design["roles"][selector])  # nas, ldap


# --------------------------------------------------------------------------- specs and rules

@dataclass(frozen=True)
class FaultSpec:
    """One scheduled fault: ``fault`` on ``selector`` from ``at`` for ``duration`` seconds.

    ``target`` holds the concrete names when they are known now, None when the nemesis
    resolves the selector at apply time.
    """
    id: str
    at: float
    duration: float
    fault: str
    selector: str
    target: tuple[str, ...] | None
    params: dict = field(default_factory=dict)

    @property
    def end(self) -> float:
        return round(self.at + self.duration, 3)

    def overlaps(self, other: "FaultSpec") -> bool:
        return self.at < other.end and other.at < self.end

    def resource(self) -> str:
        """The kind of resource the fault holds: node or link (nas, ldap otherwise)."""
        if self.selector.startswith("link:"):
            return "link"
        if self.selector in ("nas", "ldap"):
            return self.selector
        return "node"

    def pool(self, design: dict) -> frozenset[str]:
        """Every name the fault may hold: the target, or all candidates of an apply-time selector."""
        if self.target is not None:
            return frozenset(self.target)
        return frozenset(design["roles"].get("vip") or design["nodes"])

    def to_dict(self) -> dict:
        return {"id": self.id, "at": self.at, "duration": self.duration, "fault": self.fault,
                "selector": self.selector, "target": list(self.target) if self.target is not None else None,
                "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict) -> "FaultSpec":
        t = d.get("target")
        return cls(id=str(d["id"]), at=float(d["at"]), duration=float(d["duration"]), fault=str(d["fault"]),
                   selector=str(d["selector"]), target=tuple(t) if t is not None else None,
                   params=dict(d.get("params") or {}))


def _groups(design: dict) -> dict[str, frozenset[str]]:
    nodes = set(design["nodes"])
    g = {"all nodes": frozenset(nodes)}
    for role, members in design["roles"].items():
        m = frozenset(members) & nodes
        if m:
            g[f"role {role}"] = m
    return g


def over_capacity(specs, design: dict) -> str | None:
    """Why faults active together would leave too few nodes of a group serving, or None.

    Apply-time selectors count as one more node of their pool (worst case: a distinct one).
    """
    for gname, members in _groups(design).items():
        concrete: set[str] = set()
        unknown = 0
        for s in specs:
            if CATALOGUE[s.fault].mode not in UNSERVING or s.resource() != "node":
                continue
            if s.target is not None:
                concrete |= set(s.target) & members
            elif s.pool(design) & members:
                unknown += 1
        down = min(len(members), len(concrete) + unknown)
        if down > capacity(len(members)):
            return (f"{down} of the {len(members)} nodes of {gname} would be unable to serve at once "
                    f"(at most {capacity(len(members))})")
    return None


def conflicts(a: FaultSpec, b: FaultSpec, design: dict) -> str | None:
    """Why ``a`` and ``b`` may not be scheduled together, or None when they may.

    Faults that do not overlap in time never conflict. Apply-time selectors are taken at
    their worst: they may hit any node of their pool.
    """
    if not a.overlaps(b):
        return None
    shared = a.pool(design) & b.pool(design) if a.resource() == b.resource() else frozenset()
    if shared:
        where = ", ".join(sorted(shared))
        if a.fault == b.fault:
            return f"two {a.fault} faults on the same target ({where}) at once"
        ma, mb = CATALOGUE[a.fault].mode, CATALOGUE[b.fault].mode
        if frozenset((ma, mb)) in CLASHES.get(a.resource(), frozenset()):
            return f"{a.fault} and {b.fault} on the same {a.resource()} ({where}) at once"
    return over_capacity([a, b], design)


def _admissible(cand: FaultSpec, placed: list[FaultSpec], design: dict) -> bool:
    active = [s for s in placed if s.overlaps(cand)]
    if any(conflicts(cand, s, design) for s in active):
        return False
    # the set of active faults changes only where one starts: check each such instant
    for t in sorted({cand.at} | {s.at for s in active if s.at > cand.at}):
        now = [s for s in active if s.at <= t < s.end] + [cand]
        if over_capacity(now, design):
            return False
    return True


# --------------------------------------------------------------------------- schedule

@dataclass
class Schedule:
    """A generated schedule plus everything needed to regenerate or replay it."""
    seed: int
    duration_s: float
    interval_s: float
    recovery_s: float
    fault_types: tuple[str, ...]
    design: dict
    faults: list[FaultSpec]

    def __iter__(self):
        return iter(self.faults)

    def __len__(self):
        return len(self.faults)

    @property
    def heal_by(self) -> float:
        """Every fault has ended by then; the rest of the run is the recovery tail."""
        return self.duration_s - self.recovery_s

    def to_json(self) -> str:
        doc = {"format": FORMAT, "seed": self.seed, "duration_s": self.duration_s, "interval_s": self.interval_s,
               "recovery_s": self.recovery_s, "fault_types": list(self.fault_types), "design": self.design,
               "faults": [f.to_dict() for f in self.faults]}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Schedule":
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise ValueError(f"schedule format {d.get('format')!r} is not {FORMAT}; regenerate it with this mailha.")
            faults = [FaultSpec.from_dict(f) for f in d["faults"]]
            for f in faults:
                if f.fault not in CATALOGUE:
                    raise ValueError(f"the schedule has an unknown fault {f.fault!r}.")
            return cls(seed=d["seed"], duration_s=d["duration_s"], interval_s=d["interval_s"],
                       recovery_s=d["recovery_s"], fault_types=tuple(d["fault_types"]),
                       design=check_design(d["design"]), faults=faults)
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as e:
            raise ValueError(f"not a mailha schedule ({type(e).__name__}: {e}).") from None

    def write(self, run_dir) -> Path:
        """Write ``schedule.json`` into ``run_dir``; returns its path."""
        p = Path(run_dir) / FILENAME
        p.write_text(self.to_json())
        return p

    def describe(self) -> str:
        """A short human table of the schedule, for logs."""
        name = self.design.get("name", "design")
        head = (f"{name}: seed {self.seed}, {_num(self.duration_s)} s, a fault every ~{_num(self.interval_s)} s, "
                f"all healed by {_num(self.heal_by)} s; {len(self.faults)} faults")
        rows = [("at", "dur", "id", "fault", "target", "params")]
        for f in self.faults:
            if f.target is None:
                tgt = f"{f.selector} (at apply)"
            elif f.selector in ("one-node", "minority"):
                tgt = f"{','.join(f.target)} ({f.selector})"
            else:
                tgt = ",".join(f.target)
            units = {p.name: p.unit for p in CATALOGUE[f.fault].params}
            ps = " ".join(f"{k}={v}{units.get(k, '')}" for k, v in sorted(f.params.items()))
            rows.append((f"{f.at:.1f}", f"{f.duration:.1f}", f.id, f.fault, tgt, ps))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [head]
        for r in rows:
            lines.append(f"{r[0]:>{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]:<{w[4]}}  {r[5]}".rstrip())
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}"


def load(path) -> Schedule:
    """The schedule of a run directory (or a schedule.json path)."""
    p = Path(path)
    if p.is_dir():
        p = p / FILENAME
    if not p.is_file():
        raise ValueError(f"{p} does not exist; only runs started by 'mailha chaos' have a schedule to replay.")
    try:
        return Schedule.from_json(p.read_text())
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from None


def default_recovery(duration_s: float, interval_s: float) -> float:
    """The recovery tail when none is given: a tenth of the run, at least one interval."""
    return round(max(interval_s, duration_s / 10), 1)


#: draws per slot before a slot whose candidates all conflict is skipped
ATTEMPTS = 8


def generate(seed: int, duration_s: float, interval_s: float, faults=None, design: dict | None = None,
             recovery_s: float | None = None) -> Schedule:
    """A seeded schedule of ``faults`` (names or groups; None = all that apply) on ``design``.

    Slots come every ``interval_s`` seconds (jittered ±50 %), the first after about one
    interval of steady state; each slot draws a fault, a selector, parameters and a duration,
    redrawn up to ``ATTEMPTS`` times while it conflicts with faults already placed. All faults
    end by ``duration_s - recovery_s``.
    """
    if design is None:
        raise ValueError("generate() needs the design description (nodes, links, roles).")
    design = check_design(design)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"the seed must be an integer, not {seed!r}.")
    for what, v in (("run duration", duration_s), ("fault interval", interval_s)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ValueError(f"the {what} must be a positive number of seconds, not {v!r}.")
    if interval_s >= duration_s:
        raise ValueError(f"the fault interval ({_num(interval_s)} s) must be shorter than the run ({_num(duration_s)} s).")
    if recovery_s is None:
        recovery_s = default_recovery(duration_s, interval_s)
    if isinstance(recovery_s, bool) or not isinstance(recovery_s, (int, float)) or not 0 <= recovery_s < duration_s:
        raise ValueError(f"the recovery tail must be at least 0 s and shorter than the run, not {recovery_s!r} s.")

    if faults is None:
        names = tuple(f for f in CATALOGUE if selectors(f, design))
        if not names:
            raise ValueError("no fault of the catalogue applies to this design (it has no nodes, links, NAS or LDAP).")
    else:
        names = expand_faults(faults)
        if not names:
            raise ValueError("no faults given; name at least one of: " + ", ".join(CATALOGUE) + ".")
        for n in names:
            if not selectors(n, design):
                kinds = " or ".join(_MISSING[k] for k in CATALOGUE[n].kinds)
                which = f"design {design['name']}" if "name" in design else "this design"
                raise ValueError(f"fault {n!r} does not apply to {which}: it has {kinds}.")

    heal_by = duration_s - recovery_s
    shortest = min(CATALOGUE[n].duration[0] for n in names)
    if interval_s + shortest > heal_by:
        raise ValueError(f"the run is too short: the first fault comes after ~{_num(interval_s)} s and must end "
                         f"by {_num(heal_by)} s (run {_num(duration_s)} s minus recovery {_num(recovery_s)} s).")

    rng = random.Random(seed)
    placed: list[FaultSpec] = []
    t = interval_s * rng.uniform(0.5, 1.0)
    while t + shortest <= heal_by:
        at = round(t, 1)
        for _ in range(ATTEMPTS):
            name = rng.choice(names)
            ft = CATALOGUE[name]
            sel = rng.choice(selectors(name, design))
            target = _resolve(sel, design, rng)
            params = {p.name: p.draw(rng, design) for p in ft.params}
            lo, hi = ft.duration
            hi = min(hi, heal_by - at)
            if hi < lo:
                continue
            dur = round(rng.uniform(lo, hi), 1)
            cand = FaultSpec(f"f{len(placed) + 1}", at, dur, name, sel, target, params)
            if cand.end <= heal_by and _admissible(cand, placed, design):
                placed.append(cand)
                break
        t += interval_s * rng.uniform(0.5, 1.5)
    return Schedule(seed=seed, duration_s=duration_s, interval_s=interval_s, recovery_s=recovery_s,
                    fault_types=names, design=design, faults=placed)
