"""Loading a stored run for the report: tolerant of killed sessions and half-written files.

Everything the report shows comes from here. Nothing raises on a partial run: missing or
unreadable files become empty data plus a line in ``Run.problems`` that the report prints.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..history import Event, Op, is_nemesis
from ..store import RunDir
from .junit import TestResult, read_pytest_junit


@dataclass
class Cluster:
    id: str
    design: str | None
    rel: str                      # path relative to the run directory
    logs: list[str] = field(default_factory=list)   # relative paths
    images: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    has_compose: bool = False


@dataclass
class Run:
    path: Path
    meta: dict
    events: list[Event]
    checks: list[dict]
    evidence: list[dict]
    tests: list[TestResult] | None          # None: no junit.xml (the session did not finish)
    clusters: list[Cluster]
    problems: list[str] = field(default_factory=list)
    key: str = ""                           # unique within a report (prefix of anchors)
    variants: list[dict] = field(default_factory=list)   # evidence from deliberately broken clusters

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    def design_events(self, design: str) -> list[Event]:
        return [e for e in self.events if e.design == design]

    @property
    def spans(self) -> dict[str, tuple[float, float | None]]:
        """nodeid -> (start, end) of each test, computed once."""
        if "_spans" not in self.__dict__:
            self.__dict__["_spans"] = test_spans(self.events)
        return self.__dict__["_spans"]

    def test_result(self, nodeid: str) -> TestResult | None:
        for t in self.tests or []:
            if t.nodeid == nodeid:
                return t
        return None


# -- reading ----------------------------------------------------------------------------------
def _json(path: Path, default: Any, problems: list[str]) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} could not be read ({e}); it is left out")
        return default


def read_history(path: Path, problems: list[str]) -> list[Event]:
    """Every readable event; unreadable lines are counted, not fatal (a killed writer)."""
    if not path.exists():
        problems.append("no history.jsonl: the run recorded no events")
        return []
    events, bad = [], 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        problems.append(f"history.jsonl could not be read ({e})")
        return []
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(Event.from_dict(json.loads(line)))
        except (ValueError, TypeError, AttributeError):
            bad += 1
    if bad:
        problems.append(f"history.jsonl: {bad} unreadable line{'s' if bad != 1 else ''} skipped (a run killed mid-write leaves one)")
    return events


def _cluster_designs(events: list[Event]) -> dict[str, str]:
    out = {}
    for e in events:
        if e.proc.startswith("harness") and e.f == "cluster-up" and e.type == "invoke" and isinstance(e.value, dict):
            if e.value.get("run_id") and e.value.get("design"):
                out[str(e.value["run_id"])] = str(e.value["design"])
    return out


def read_clusters(path: Path, events: list[Event], designs: list[str]) -> list[Cluster]:
    base = path / "clusters"
    if not base.is_dir():
        return []
    known = _cluster_designs(events)
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        design = known.get(d.name)
        if design is None and (d / "compose.yml").exists():
            m = re.search(r"mailha\.design:\s*['\"]?([a-z_]+)", (d / "compose.yml").read_text(errors="replace"))
            design = m.group(1) if m else None
        if design is None:  # cluster ids end with the design name
            design = next((x for x in designs if d.name.endswith("-" + x) or f"-{x}-" in d.name), None)
        problems: list[str] = []
        c = Cluster(id=d.name, design=design, rel=f"clusters/{d.name}", has_compose=(d / "compose.yml").exists(),
                    images=_json(d / "images.json", {}, problems) or {},
                    versions=_json(d / "versions.json", {}, problems) or {})
        if (d / "logs").is_dir():
            c.logs = [f"clusters/{d.name}/logs/{f.name}" for f in sorted((d / "logs").iterdir()) if f.is_file()]
        out.append(c)
    return out


def load_run(run: RunDir | Path | str, key: str = "") -> Run:
    path = Path(getattr(run, "path", run))
    problems: list[str] = []
    meta = _json(path / "meta.json", {}, problems)
    if not isinstance(meta, dict):
        problems.append("meta.json is not an object; run facts are missing")
        meta = {}
    events = read_history(path / "history.jsonl", problems)
    checks = _json(path / "checks.json", [], problems)
    evidence = _json(path / "claims.json", [], problems)
    checks = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
    evidence = [e for e in evidence if isinstance(e, dict) and e.get("design") and e.get("claim")] \
        if isinstance(evidence, list) else []
    variants = _json(path / "variants.json", [], problems)
    variants = [v for v in variants if isinstance(v, dict) and v.get("design") and v.get("claim")] \
        if isinstance(variants, list) else []
    tests = None
    if (path / "junit.xml").exists():
        tests, err = read_pytest_junit(path / "junit.xml", known=_known_nodeids(events, checks, evidence + variants))
        if err:
            problems.append(err)
    from ..claims import catalogue

    clusters = read_clusters(path, events, catalogue().design_ids())
    r = Run(path=path, meta=meta, events=events, checks=checks, evidence=evidence, tests=tests,
            clusters=clusters, problems=problems, key=key, variants=variants)
    for ev in r.evidence + r.variants:
        ev.setdefault("run", r.run_id)
    return r


def _known_nodeids(events, checks, evidence) -> list[str]:
    ids = {e.test for e in events if e.test}
    ids |= {c.get("test") for c in checks if c.get("test")}
    ids |= {e.get("test") for e in evidence if e.get("test")}
    return sorted(str(i) for i in ids)


# -- operations, tolerant ---------------------------------------------------------------------
def tolerant_ops(events: list[Event]) -> list[Op]:
    """Like history.pair, but never raises: an invoke that is followed by another invoke of the
    same process is closed as never completed, a completion without an invoke is dropped."""
    pending: dict[str, Op] = {}
    out: list[Op] = []
    for e in events:
        if e.type == "invoke":
            pending.pop(e.proc, None)  # the earlier one never completed (stays done=None)
            op = Op(e)
            pending[e.proc] = op
            out.append(op)
        else:
            op = pending.get(e.proc)
            if op is not None and op.f == e.f:
                op.done = e
                del pending[e.proc]
    return out


_OPS_CACHE: dict = {}


def ops_of(events: list[Event], *fs: str) -> list[Op]:
    """Paired operations of the given functions (only their events are paired). Several charts
    ask for the same operations of the same event list, so the last few answers are kept."""
    key = (id(events), len(events), fs)
    hit = _OPS_CACHE.get(key)
    if hit is not None and hit[0] is events:
        return hit[1]
    ops = tolerant_ops([e for e in events if e.f in fs])
    if len(_OPS_CACHE) >= 16:
        _OPS_CACHE.pop(next(iter(_OPS_CACHE)))
    _OPS_CACHE[key] = (events, ops)
    return ops


def fault_windows(events: list[Event], end_of_run: float | None = None) -> list[dict]:
    """Fault windows {id, fault, target, start, end, invoked, applied, healed, error, test}."""
    windows: dict[str, dict] = {}
    for op in tolerant_ops([e for e in events if is_nemesis(e.proc)]):
        v = op.invoke.value if isinstance(op.invoke.value, dict) else {}
        fid = str(v.get("id"))
        if op.f == "fault":
            windows[fid] = {"id": fid, "fault": v.get("fault"), "target": v.get("target"), "params": v.get("params"),
                            "invoked": op.start, "start": op.end if op.done else op.start, "end": None,
                            "applied": op.type == "ok", "healed": None, "heal_invoked": None,
                            "error": op.error if op.type != "ok" else None, "test": op.invoke.test,
                            "design": op.invoke.design}
        elif op.f == "heal" and fid in windows:
            w = windows[fid]
            w["heal_invoked"] = op.start
            w["end"] = op.end if op.done else None
            w["healed"] = op.type == "ok"
            if op.type != "ok":
                w["error"] = op.error
    out = list(windows.values())
    for w in out:
        w["open_end"] = w["end"] is None
        if w["end"] is None:
            w["end"] = end_of_run if end_of_run is not None else w["start"]
    return out


def test_spans(events: list[Event]) -> dict[str, tuple[float, float | None]]:
    """nodeid -> (start, end) from the harness ``test`` markers."""
    spans: dict[str, list] = {}
    for e in events:
        if e.proc.startswith("harness") and e.f == "test" and isinstance(e.value, dict):
            name = str(e.value.get("name") or e.test)
            if e.type == "invoke":
                spans[name] = [e.t, None]
            elif name in spans:
                spans[name][1] = e.t
    return {k: (v[0], v[1]) for k, v in spans.items()}


def declared_claims(events: list[Event]) -> dict[str, list[tuple[str, str]]]:
    """nodeid -> claims its markers declare (when the plugin records them in the test marker)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for e in events:
        if e.proc.startswith("harness") and e.f == "test" and e.type == "invoke" and isinstance(e.value, dict):
            cl = e.value.get("claims")
            if isinstance(cl, list):
                out[str(e.value.get("name") or e.test)] = [(str(c[0]), str(c[1])) for c in cl
                                                            if isinstance(c, (list, tuple)) and len(c) == 2]
    return out


def designs_of(run: Run) -> list[str]:
    """Designs this run exercised: evidence, checks, cluster bring-ups or events that name one."""
    from ..claims import catalogue

    seen = {e.get("design") for e in run.evidence} | {c.get("design") for c in run.checks}
    seen |= {e.design for e in run.events if e.design}
    seen |= {c.design for c in run.clusters if c.design}
    return [d for d in catalogue().design_ids() if d in seen]


def clusters_for(run: Run, design: str | None, test: str | None = None) -> list[Cluster]:
    """The clusters a test ran against: those it brought up, else the last one up before it.
    Without a test (or without bring-up events) every cluster of the design."""
    mine = [c for c in run.clusters if design is None or c.design in (design, None)]
    if not test or len(mine) <= 1:
        return mine
    span = run.spans.get(test)
    ups = sorted((e.t, str(e.value.get("run_id"))) for e in run.events
                 if e.proc.startswith("harness") and e.f == "cluster-up" and e.type == "invoke" and isinstance(e.value, dict)
                 and e.value.get("run_id") and (design is None or e.value.get("design") == design))
    if span is None or not ups:
        return mine
    start, end = span[0], span[1] if span[1] is not None else float("inf")
    # a test that brought clusters up ran against those; otherwise against the last one up before it
    ids = {cid for t, cid in ups if start <= t <= end}
    if not ids:
        before = [cid for t, cid in ups if t < start]
        ids = set(before[-1:])
    picked = [c for c in mine if c.id in ids]
    return picked or mine
