"""Seeded, reproducible nemesis schedules.

A schedule says what fault happens where and when in a chaos run. It is generated from one
``random.Random(seed)`` over a *design description*, a plain dict saying what exists::

    {"name": "mirror",                       # optional, shown in describe()
     "nodes": ["mirror-a", "mirror-b"],      # nodes that node faults may hit
     "links": ["crossover"],                 # links that can be cut (iptables) and shaped (Toxiproxy)
     "roles": {"mail": ["mirror-a", "mirror-b"],   # role -> members; groups for the capacity rule
               "vip": ["mirror-a", "mirror-b"],    # who may hold the client VIP (vip-holder selectors)
               "nas": ["nas"], "ldap": ["ldap"]},  # present only where the design has them
     "daemons": ["dovecot", "postfix"],      # optional: what daemon-kill may kill (this default)
     "tiers": {"back": ["be1", "be2"], ...}, # optional: the design's tiers (a node in at most one)
     "faults": {"back": ["kill", ...], ...}} # optional: per tier, the faults drawn on its nodes

The faults, their parameters, durations and target kinds are harness.faults.CATALOGUE, the
one definition the nemesis applies; ``CATALOGUE`` here is the part of it a schedule draws.

The same seed, options and design give the identical schedule, byte for byte in JSON.
``schedule.json`` is written into the run directory before the run starts; ``load()`` reads
it back for ``mailha chaos --replay RUN_DIR``.

Selectors name a target when only its role is known: ``one-node`` and ``minority`` are
resolved here from the seeded RNG (the concrete names are in ``FaultSpec.target``);
``vip-holder`` and ``not-vip-holder`` are resolved by the nemesis when it applies the fault
(``target`` is None) and it records the concrete node in the history. In a design with tiers a
minority is drawn within one tier (``minority:<tier>``, only for tiers of three or more), never
across unrelated tiers, and a node fault hits only the tiers whose ``faults`` list it.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from harness import faults as catalogue
from harness.faults import APPLY_TIME, Param
from harness.topology import node_daemons, node_kinds, node_tier

FORMAT = 1
FILENAME = "schedule.json"


# --------------------------------------------------------------------------- catalogue

#: the faults a schedule draws, in catalogue order (a view of harness.faults.CATALOGUE)
CATALOGUE = {name: f for name, f in catalogue.CATALOGUE.items() if f.scheduled}
#: names users may type for groups of faults (``--faults link,daemon``)
ALIASES = catalogue.GROUPS
expand_faults = catalogue.expand


def draw(p: Param, rng: random.Random, design: dict, target: tuple | None = None):
    """A value of ``p`` for a schedule: one of its choices or an integer of its range. A daemon is
    one that every node of ``target`` runs (``node_daemons``: design V's SMTP servers run Postfix,
    its front ends Dovecot, its ECMs the scanners), else one of the design's."""
    if p.name == "daemon":  # the design may narrow the daemons (e.g. a node without Postfix)
        every = design.get("daemons") or list(p.choices)
        per_node = design.get("node_daemons") or {}
        if target and all(n in per_node for n in target):
            common = [d for d in every if all(d in per_node[n] for n in target)]
            return rng.choice(common or every)
        return rng.choice(every)
    if p.choices:
        return rng.choice(p.choices)
    return rng.randint(p.lo, p.hi)


# Composition rules, as data.
#: pairs of modes that may not hold the same resource at once. On a node: the nemesis must be
#: able to exec into a node to heal an iptables fault, which a pause/kill/stop prevents, and a
#: second "down" fault on a down node cannot be applied. On a link: partition and link-hold
#: both cut it, and healing one would not restore the link.
CLASHES: dict[str, frozenset[frozenset[str]]] = {
    "node": frozenset(frozenset(p) for p in [("down", "down"), ("down", "degraded"), ("down", "cut"), ("cut", "cut"),
                                             ("stalled", "down"), ("stalled", "stalled"), ("stalled", "degraded"),
                                             ("stalled", "cut")]),
    "link": frozenset(frozenset(p) for p in [("cut", "cut")]),
}
#: node modes that leave a node unable to serve; at most ``capacity(group)`` of a group at once
UNSERVING = frozenset({"down", "degraded", "stalled"})


def capacity(n: int) -> int:
    """How many of a group of ``n`` nodes may be unable to serve at once: a strict minority,
    but at least one (a 2-node mirror may lose one node, never both)."""
    return max(1, (n - 1) // 2)


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

    def groups(v, what):
        if not isinstance(v, dict):
            raise ValueError(f"the design's {what} must map a name to a list, not {v!r}.")
        return {str(k): names(x, f"{what[:-1]} {k!r}") for k, x in sorted(v.items())}

    out = {"nodes": names(design.get("nodes"), "nodes"), "links": names(design.get("links"), "links")}
    out["roles"] = groups(design.get("roles") or {}, "roles")
    for r in ("vip",):
        stray = [n for n in out["roles"].get(r, []) if n not in out["nodes"]]
        if stray:
            raise ValueError(f"role {r!r} names {stray[0]!r}, which is not one of the design's nodes.")
    if "name" in design:
        out["name"] = str(design["name"])
    if design.get("daemons") is not None:
        out["daemons"] = names(design["daemons"], "daemons")
    if design.get("node_daemons") is not None:
        out["node_daemons"] = groups(design["node_daemons"], "node_daemons")
    if design.get("tiers") is not None:
        out["tiers"] = groups(design["tiers"], "tiers")
        seen: dict[str, str] = {}
        for t, members in out["tiers"].items():
            for n in members:
                if n not in out["nodes"]:
                    raise ValueError(f"tier {t!r} names {n!r}, which is not one of the design's nodes.")
                if n in seen:
                    raise ValueError(f"node {n!r} is in two tiers, {seen[n]!r} and {t!r}.")
                seen[n] = t
    if design.get("faults") is not None:
        out["faults"] = groups(design["faults"], "faults")
        for t, fs in out["faults"].items():
            if t not in out.get("tiers", {}):
                raise ValueError(f"the design's faults name tier {t!r}, which is not one of its tiers.")
            bad = [f for f in fs if f not in CATALOGUE or not CATALOGUE[f].on_nodes]
            if bad:
                raise ValueError(f"tier {t!r} lists {bad[0]!r}, which is not a fault on nodes of the catalogue.")
    unknown = set(design) - {"name", "nodes", "links", "roles", "daemons", "node_daemons", "tiers", "faults"}
    if unknown:
        raise ValueError(f"the design has unknown keys {sorted(unknown)}; it may have name, nodes, links, roles, "
                         f"daemons, node_daemons, tiers, faults.")
    return out


def tier_faults(meta: dict, tiers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per tier, the faults a chaos run draws on its nodes: ``x-mailha.chaos.faults.<tier>``
    (names or groups), else every node fault of the catalogue whose target kinds every node of
    the tier is (harness.topology.node_kinds: ``daemon-kill`` only where the design's daemons
    run, ``ldap-down`` on a directory, ``nas-stall`` on a NAS)."""
    nodes = meta.get("nodes") or {}
    declared = ((meta.get("chaos") or {}).get("faults") or {})
    if not isinstance(declared, dict):
        raise ValueError("x-mailha chaos.faults must map a tier to a list of faults.")
    stray = sorted(set(declared) - set(tiers))
    if stray:
        raise ValueError(f"x-mailha chaos.faults names tier {stray[0]!r}; the tiers are: {', '.join(tiers) or 'none'}.")
    out = {}
    for t, members in tiers.items():
        kinds = set.intersection(*(set(node_kinds(nodes[n] or {}, meta)) for n in members))
        fits = [f for f, ft in CATALOGUE.items() if ft.on_nodes and set(ft.targets) & kinds]
        if t in declared:
            want = list(expand_faults(declared[t] or []))
            wrong = [f for f in want if f not in fits]
            if wrong:
                ft = CATALOGUE[wrong[0]]
                raise ValueError(f"x-mailha chaos.faults lists {wrong[0]!r} for tier {t!r}, but {wrong[0]} hits "
                                 f"{' or '.join(ft.targets)} targets and the servers of {t} are "
                                 f"{'/'.join(sorted(kinds))} targets.")
            out[t] = want
        else:
            out[t] = fits
    return out


def design_from_meta(meta: dict, name: str | None = None) -> dict:
    """The design description of a compose file's ``x-mailha`` block (harness.designs).

    nodes: the keys of ``nodes``; links: the ``links`` that join named nodes (a link without
    ``nodes``, such as the LAN, is what ``isolate`` cuts, not a link target); roles: ``data``
    (nodes with ``data: true``), ``vip`` (nodes with ``vip: true``, else every node when the
    block lists ``vips``), any node's ``role``, and ``nas``/``ldap`` from blocks of those names
    with a ``service``, else the nodes of tier ``nas``/``directory``; daemons: the keys of
    ``daemons``; tiers: each node's ``tier`` (or ``role``), only when some node has one, with
    ``faults`` per tier (``tier_faults``).
    """
    nodes = meta.get("nodes") or {}
    if isinstance(nodes, list):
        nodes = {n: {} for n in nodes}
    roles: dict[str, list[str]] = {}
    tiers: dict[str, list[str]] = {}
    for n, info in nodes.items():
        info = info or {}
        if info.get("data"):
            roles.setdefault("data", []).append(n)
        if info.get("vip"):
            roles.setdefault("vip", []).append(n)
        if info.get("role"):
            roles.setdefault(str(info["role"]), []).append(n)
        if node_tier(info):
            tiers.setdefault(node_tier(info), []).append(n)
    if "vip" not in roles and meta.get("vips") and nodes:
        roles["vip"] = list(nodes)
    for r, tier in (("nas", "nas"), ("ldap", "directory")):
        if isinstance(meta.get(r), dict) and meta[r].get("service"):
            roles[r] = [meta[r]["service"]]
        elif tiers.get(tier):
            roles[r] = list(tiers[tier])
    design = {"nodes": list(nodes),
              "links": [l for l, info in (meta.get("links") or {}).items() if (info or {}).get("nodes")],
              "roles": roles}
    if name or meta.get("design"):
        design["name"] = name or meta["design"]
    if meta.get("daemons"):
        design["daemons"] = list(meta["daemons"])
        # only when some node names its own: the others' lists are the design's anyway
        if any((info or {}).get("daemons") is not None for info in nodes.values()):
            design["node_daemons"] = {n: node_daemons(info or {}, meta) for n, info in nodes.items()}
    if tiers:
        design["tiers"] = tiers
        design["faults"] = tier_faults(meta, tiers)
    elif (meta.get("chaos") or {}).get("faults"):
        raise ValueError("x-mailha chaos.faults is per tier, and no node of this design has a tier.")
    return check_design(design)


def tier_of(node: str, design: dict) -> str | None:
    for t, members in (design.get("tiers") or {}).items():
        if node in members:
            return t
    return None


def allowed(fault: str, node: str, design: dict) -> bool:
    """May a schedule draw ``fault`` on ``node``? Yes unless the design lists the faults of the
    node's tier and ``fault`` is not one of them."""
    t = tier_of(node, design)
    fmap = design.get("faults")
    if fmap is None or t is None or t not in fmap:
        return True
    return fault in fmap[t]


def eligible(fault: str, design: dict) -> list[str]:
    """The nodes a node fault may hit, in the design's order."""
    return [n for n in design["nodes"] if allowed(fault, n, design)]


def _minority_groups(fault: str, design: dict) -> dict[str, list[str]]:
    """selector -> members: ``minority`` over the nodes without a tier (every node of a design
    without tiers), ``minority:<tier>`` per tier; only groups of three or more eligible nodes
    (of two, a minority is one node: ``one-node``)."""
    tiers = design.get("tiers") or {}
    tiered = {n for members in tiers.values() for n in members}
    out = {}
    loose = [n for n in eligible(fault, design) if n not in tiered]
    if len(loose) >= 3:
        out["minority"] = loose
    for t in sorted(tiers):
        members = [n for n in tiers[t] if allowed(fault, n, design)]
        if len(members) >= 3:
            out[f"minority:{t}"] = members
    return out


def selectors(fault: str, design: dict) -> list[str]:
    """The selectors ``fault`` may use on ``design`` (empty: it does not apply)."""
    ft, roles = CATALOGUE[fault], design["roles"]
    out: list[str] = []
    if {"node", "daemon"} & set(ft.targets):
        nodes = eligible(fault, design)
        if nodes:
            out.append("one-node")
            vip = roles.get("vip") or []
            if vip and all(n in nodes for n in vip):
                out.append("vip-holder")
                if len(vip) >= 2:
                    out.append("not-vip-holder")
        if ft.sets:
            out += list(_minority_groups(fault, design))
    if "link" in ft.targets:
        out += [f"link:{l}" for l in design["links"]]
    for kind, sel in (("nas", "nas"), ("directory", "ldap")):
        members = roles.get(sel) or []
        if kind in ft.targets and members and all(allowed(fault, m, design) for m in members):
            out.append(sel)
    return out


_MISSING = {"node": "no nodes", "daemon": "no nodes", "link": "no links", "nas": "no NAS (roles.nas)",
            "directory": "no LDAP server (roles.ldap)"}


def _resolve(selector: str, fault: str, design: dict, rng: random.Random) -> tuple[str, ...] | None:
    if selector == "one-node":
        return (rng.choice(eligible(fault, design)),)
    if selector.startswith("minority"):
        members = _minority_groups(fault, design)[selector]
        return tuple(sorted(rng.sample(members, capacity(len(members)))))
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

    def resource(self, design: dict | None = None) -> str:
        """The kind of resource the fault holds: node or link (nas, ldap otherwise — unless the
        NAS or directory is one of the design's nodes, when it is a node like the others)."""
        if self.selector.startswith("link:"):
            return "link"
        if self.selector in ("nas", "ldap"):
            if design is not None and self.target and set(self.target) <= set(design["nodes"]):
                return "node"
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
    for kind, groups in (("role", design["roles"]), ("tier", design.get("tiers") or {})):
        for name, members in groups.items():
            m = frozenset(members) & nodes
            if m:
                g[f"{kind} {name}"] = m
    return g


def over_capacity(specs, design: dict) -> str | None:
    """Why faults active together would leave too few nodes of a group serving, or None.

    Apply-time selectors count as one more node of their pool (worst case: a distinct one).
    """
    for gname, members in _groups(design).items():
        concrete: set[str] = set()
        unknown = 0
        for s in specs:
            if CATALOGUE[s.fault].mode not in UNSERVING or s.resource(design) != "node":
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
    ra, rb = a.resource(design), b.resource(design)
    shared = a.pool(design) & b.pool(design) if ra == rb else frozenset()
    if shared:
        where = ", ".join(sorted(shared))
        if a.fault == b.fault:
            return f"two {a.fault} faults on the same target ({where}) at once"
        ma, mb = CATALOGUE[a.fault].mode, CATALOGUE[b.fault].mode
        if frozenset((ma, mb)) in CLASHES.get(ra, frozenset()):
            return f"{a.fault} and {b.fault} on the same {ra} ({where}) at once"
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
            elif f.selector == "one-node" or f.selector.startswith("minority"):
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
                kinds = " or ".join(dict.fromkeys(_MISSING[k] for k in CATALOGUE[n].targets if k in _MISSING))
                which = f"design {design['name']}" if "name" in design else "this design"
                where = " that its chaos faults allow it on" if design.get("faults") else ""
                raise ValueError(f"fault {n!r} does not apply to {which}: it has {kinds}{where}.")

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
            target = _resolve(sel, name, design, rng)
            params = {p.name: draw(p, rng, design, target) for p in ft.params if p.drawn}
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
