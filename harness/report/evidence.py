"""Evidence: per claim cell (tests, numbers against thresholds, checks, logs) and per test.

The functions here gather what the report shows (``*_view``); the markup is in
``templates/evidence.html.j2`` (cards, variants), ``templates/design.html.j2`` (faults, errors)
and ``templates/tests.html.j2`` (the Tests section). The ``*_table``/``cell_card``/``tests_section``
functions render one piece on its own (Markup).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from pathlib import Path

from ..claims import catalogue
from .data import Run, clusters_for, ops_of
from .templating import macro
from .util import OPS, VALID, num, pretty, slug, within

MAX_LOG_LINES = 40
# a node's log now holds Dovecot's info lines and Postfix's mail log: 18.7 MB for a mirror node in
# a 20-minute chaos run, so 20 MB cut the end of a 30-minute run off its excerpts and traces
MAX_LOG_BYTES = 200_000_000


def test_anchor(run: Run, nodeid: str) -> str:
    return "test-" + slug(run.key, nodeid)


def check_anchor(run: Run, index: int) -> str:
    return f"check-{run.key or 'r'}-{index}"


# -- numbers ----------------------------------------------------------------------------------
def number_row(name: str, n) -> dict:
    """One measured number: its value and, when it has one, the threshold it was held against
    (``held``) and whether it was within it (``ok``: True, False, or None for no value)."""
    row = {"name": name, "value": None, "held": None, "ok": None, "flat": None}
    if isinstance(n, dict) and "value" in n:
        unit = n.get("unit") or ""
        u = f" {unit}" if unit and unit not in ("", "ratio") else ""
        row["value"] = f"{num(n.get('value'))}{u}"
        thr = n.get("threshold")
        if thr is not None:
            op = n.get("op", "<=")
            row["held"] = f"{OPS.get(op, op)} {num(thr)}{u}"
            row["ok"] = within(n.get("value"), thr, op)
    elif isinstance(n, dict):
        row["flat"] = " · ".join(f"{k} {num(v)}" for k, v in n.items() if not isinstance(v, (dict, list)))
    else:
        row["value"] = num(n)
    return row


def numbers_table(numbers: dict) -> str:
    return macro("evidence.html.j2", "numbers_table")([number_row(k, v) for k, v in (numbers or {}).items()])


def result_numbers(result: dict, limit: int = 10) -> str:
    """The headline numbers of a checker result, one line (full JSON goes in a details block)."""
    parts = []
    for k, v in result.items():
        if k in ("valid", "checker", "reasons"):
            continue
        if isinstance(v, dict) and "value" in v:
            thr = v.get("threshold")
            s = f"{pretty(k)} {num(v.get('value'))}{(' ' + v['unit']) if v.get('unit') else ''}"
            if thr is not None:
                s += f" ({OPS.get(v.get('op', '<='), v.get('op'))} {num(thr)})"
        elif isinstance(v, dict):
            inner = [f"{kk} {num(vv)}" for kk, vv in v.items() if isinstance(vv, (int, float)) and not isinstance(vv, bool)]
            if not inner:
                continue
            s = f"{pretty(k)}: " + ", ".join(inner[:5])
        elif isinstance(v, list):
            s = f"{pretty(k)}: {len(v)}"
        else:
            s = f"{pretty(k)} {num(v)}"
        parts.append(s)
        if len(parts) >= limit:
            break
    return " · ".join(parts)


# -- logs -------------------------------------------------------------------------------------
_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d)?\s")
_log_cache: dict[Path, list[tuple[float | None, str]]] = {}


def line_time(line: str) -> float | None:
    """The epoch time of a container log line's timestamp (``docker logs -t``), or None."""
    m = _TS.match(line)
    if not m:
        return None
    stamp = m.group(1)[:26]
    try:
        dt = _dt.datetime.fromisoformat(stamp)
        tz = m.group(2)
        if not tz or tz == "Z":
            dt = dt.replace(tzinfo=_dt.timezone.utc)
        else:
            dt = _dt.datetime.fromisoformat(stamp + (tz if ":" in tz else tz[:3] + ":" + tz[3:]))
        return dt.timestamp()
    except ValueError:
        return None


def strip_time(line: str) -> str:
    """A log line without its timestamp."""
    return _TS.sub("", line, count=1)


def log_lines(path: Path) -> list[tuple[float | None, str]]:
    """(epoch time or None, line) of a saved container log, read once per path (at most
    ``MAX_LOG_BYTES``)."""
    if path not in _log_cache:
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_LOG_BYTES).decode("utf-8", "replace")
        except OSError:
            data = ""
        out = [(line_time(line), line) for line in data.splitlines()]
        _log_cache[path] = out
    return _log_cache[path]


def log_excerpt(run: Run, rel: str, start: float, end: float) -> list[str]:
    """Log lines whose timestamps fall within the test's time span (wall clock = wall_t0 + t)."""
    w0 = run.meta.get("wall_t0")
    if not isinstance(w0, (int, float)):
        return []
    lo, hi = w0 + start - 1.0, w0 + end + 1.0
    return [line for ts, line in log_lines(run.path / rel) if ts is not None and lo <= ts <= hi]


def logs_links(run: Run, design: str | None, prefix: str, test: str | None = None) -> list[dict]:
    """Links to the logs (and compose file) of the clusters a test ran against, per cluster:
    [{head, links: [(url, text)]}] (``head`` names the cluster when there are several)."""
    clusters = clusters_for(run, design, test)
    groups = []
    for c in clusters:
        links = [(prefix + rel, Path(rel).name) for rel in c.logs]
        if c.has_compose:
            links.append((prefix + c.rel + "/compose.yml", "compose.yml"))
        if links:
            groups.append({"head": c.id.removeprefix(run.run_id + "-") if len(clusters) > 1 else None, "links": links})
    return groups


# -- claim cells ------------------------------------------------------------------------------
def evidence_view(ev: dict, runs: dict[str, Run], prefixes: dict[str, str]) -> dict:
    """One measurement of a claim: the record, its test's anchor, numbers, the stored checks behind it, logs."""
    run = runs.get(ev.get("run_key", ""))
    test = str(ev.get("test") or "?")
    checks, missing, logs = [], [], []
    if run is not None:
        idx = [i for i, c in enumerate(run.checks) if c.get("test") == test and c.get("checker") in (ev.get("checks") or [])]
        for i in idx:
            c = run.checks[i]
            v = str((c.get("result") or {}).get("valid", "unknown"))
            cls, sym, _ = VALID.get(v, VALID["unknown"])
            checks.append({"anchor": check_anchor(run, i), "checker": c.get("checker"), "valid": v, "cls": cls, "sym": sym})
        missing = [x for x in (ev.get("checks") or []) if not any(run.checks[i].get("checker") == x for i in idx)]
        logs = logs_links(run, ev.get("design"), prefixes.get(run.key, ""), test)
    return {"ev": ev, "test": test, "anchor": test_anchor(run, test) if run else None,
            "numbers": [number_row(k, v) for k, v in (ev.get("numbers") or {}).items()],
            "checks": checks, "missing": missing, "logs": logs}


def card_view(c: dict, runs: dict[str, Run], prefixes: dict[str, str]) -> dict:
    """The card of one claim cell: the cell, each measurement behind it, the tests that were skipped."""
    skipped = []
    for s in c.get("skipped_tests") or []:
        run = runs.get(s.get("run_key", ""))
        skipped.append({"test": s["test"], "anchor": test_anchor(run, s["test"]) if run else None,
                        "reason": s.get("reason") or ""})
    return {"cell": c, "entries": [evidence_view(ev, runs, prefixes) for ev in c["evidence"]], "skipped": skipped}


def cell_card(c: dict, runs: dict[str, Run], prefixes: dict[str, str], merged: bool) -> str:
    return macro("evidence.html.j2", "cell_card")(card_view(c, runs, prefixes), merged)


# -- per design -------------------------------------------------------------------------------
def faults_table(faults: list[dict]) -> str:
    """The fault windows of a design (data.fault_windows) as a table."""
    return macro("design.html.j2", "faults_table")(faults)


ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def error_rows(events) -> list[dict]:
    """Distinct errors seen by probes, sends and sessions, in order of first appearance:
    [{op, kind ("failed" or "unknown"), error, count, first}] (texts come from servers: the template escapes them)."""
    c: Counter = Counter()
    first: dict = {}
    for o in ops_of(events, "probe", "send", "session", "read", "pop-read", "webmail-list"):
        if o.type == "ok":
            continue
        proto = (o.invoke.value or {}).get("proto") if isinstance(o.invoke.value, dict) else None
        # object addresses in exception texts ("at 0x7fd7…") would make every timeout its own row
        key = (o.f + (f" {proto}" if proto else ""), o.type, ADDRESS.sub("0x…", str(o.error or ""))[:200])
        c[key] += 1
        first.setdefault(key, o.start)
    return [{"op": k[0], "kind": {"fail": "failed", "info": "unknown"}.get(k[1], k[1]), "error": k[2], "count": n,
             "first": first[k]} for k, n in sorted(c.items(), key=lambda kv: (first[kv[0]], kv[0]))]


def errors_table(events) -> str:
    """The distinct errors clients saw, as a table ("" when there were none)."""
    return macro("design.html.j2", "errors_table")(error_rows(events))


# -- tests ------------------------------------------------------------------------------------
def _check_row(run: Run, i: int, c: dict) -> dict:
    r = c.get("result") or {}
    v = str(r.get("valid", "unknown"))
    window = c.get("window")
    return {"anchor": check_anchor(run, i), "checker": c.get("checker"), "valid": v,
            "cls": VALID.get(v, VALID["unknown"])[0],
            "window": f"{num(window[0])}–{num(window[1])} s" if isinstance(window, (list, tuple)) and len(window) == 2
                      else "whole test",
            "options": ", ".join(f"{k}={v2}" for k, v2 in (c.get("options") or {}).items()) or "defaults",
            "numbers": result_numbers(r), "reasons": "; ".join(str(x) for x in (r.get("reasons") or [])),
            "stored": json.dumps(r, indent=1, default=str)[:20000]}


def test_view(run: Run, nodeid: str, res, prefix: str, cells_by_test: dict) -> dict:
    """One test: outcome, facts, failure message, the claims it measured, its checks, logs and log lines."""
    span = run.spans.get(nodeid)
    design = next((ev.get("design") for ev in run.evidence if ev.get("test") == nodeid), None) or \
        next((c.get("design") for c in run.checks if c.get("test") == nodeid), None) or \
        next((x.design for x in run.events if x.test == nodeid and x.design), None)
    message = traceback = None
    if res and res.outcome in ("failed", "error", "skipped", "xfailed") and (res.message or res.detail):
        message = res.message or ""
        if res.detail and res.outcome not in ("skipped", "xfailed"):
            traceback = res.detail
    excerpts = []
    if span and span[1] is not None:
        for c in clusters_for(run, design, nodeid):
            for rel in c.logs:
                lines = log_excerpt(run, rel, span[0], span[1])
                if lines:
                    more = f"\n… {len(lines) - MAX_LOG_LINES} more lines in the file" if len(lines) > MAX_LOG_LINES else ""
                    excerpts.append({"name": Path(rel).name, "count": len(lines),
                                     "text": "\n".join(lines[:MAX_LOG_LINES]) + more})
    return {"nodeid": nodeid, "anchor": test_anchor(run, nodeid), "outcome": res.outcome if res else None,
            "duration": res.time if res else None, "design": design, "span": span,
            "message": message, "traceback": traceback,
            "claims": cells_by_test.get((run.key, nodeid), []),
            "variants": cells_by_test.get(("variants", run.key, nodeid), []),
            "checks": [_check_row(run, i, c) for i, c in enumerate(run.checks) if c.get("test") == nodeid],
            "logs": logs_links(run, design, prefix, nodeid), "excerpts": excerpts}


def tests_view(runs: list[Run], summary: dict, prefixes: dict[str, str]) -> list[dict]:
    """Per run: its tests (junit.xml's, then any the junit file does not list, e.g. of a killed run)."""
    cells_by_test: dict = {}
    for c in summary["cells"]:
        for ev in c["evidence"]:
            cells_by_test.setdefault((ev.get("run_key", ""), ev.get("test")), []).append((c, ev.get("measured")))
    for v in summary.get("variants", []):
        cells_by_test.setdefault(("variants", v.get("run_key", ""), v.get("test")), []).append(v)
    out = []
    for run in runs:
        ids = [t.nodeid for t in run.tests or []]
        for x in (list(run.spans) + [ev.get("test") for ev in run.evidence + run.variants]
                  + [c.get("test") for c in run.checks]):
            if x and x not in ids:
                ids.append(x)  # tests the junit file does not list (killed run)
        out.append({"run_id": run.run_id if len(runs) > 1 else None, "no_junit": run.tests is None,
                    "tests": [test_view(run, n, run.test_result(n), prefixes.get(run.key, ""), cells_by_test) for n in ids]})
    return out


def tests_section(runs: list[Run], summary: dict, prefixes: dict[str, str]) -> str:
    return macro("tests.html.j2", "tests_section")(tests_view(runs, summary, prefixes))


def not_run_view(design: str, cells: list[dict]) -> dict:
    """A design no test of the run certified: its prose claims."""
    return {"design": design, "title": catalogue().design_title(design),
            "cells": [c for c in cells if c["design"] == design and c["kind"] == "prose"]}


def variants_view(variants: list[dict], runs: dict[str, Run]) -> list[dict]:
    """Results against deliberately broken clusters: the proof that the suite can fail.
    They never count in the matrix; a variant is *caught* when its measurement is below the claim."""
    cat = catalogue()
    rows = []
    for v in sorted(variants, key=lambda v: (str(v.get("variant")), str(v.get("claim")))):
        run = runs.get(v.get("run_key", ""))
        test = str(v.get("test") or "?")
        try:
            label = cat.get(v["design"], v["claim"]).label
        except KeyError:
            label = v["claim"]
        nums = "; ".join(f"{pretty(k)} {num(n.get('value') if isinstance(n, dict) else n)}"
                         for k, n in list((v.get("numbers") or {}).items())[:4])
        rows.append({"variant": v.get("variant"), "label": label, "claimed": v["claimed"], "measured": v.get("measured"),
                     "caught": v["caught"], "test": test, "anchor": test_anchor(run, test) if run else None,
                     "note": v.get("note") or nums})
    return rows
