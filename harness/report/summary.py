"""The verdict of one or more runs: claim cells, counts, test outcomes and the exit code.

Exit code (harness/errors.py, docs/exit-codes.md), the first that applies:
3 a chaos run whose recovery failed (it is judged on what it recorded, and says so first);
1 a claim disagrees with its measurement or a test failed; 3 the harness could not do its
job (a test errored, a cluster did not come up, a fault was not applied or healed, the run
did not finish); 2 pytest reported a usage error or collected no tests; 4 nothing violated
but some verdicts are unknown; 0 every checked claim agrees, exceeds or confirms a disclosed
limitation. A claimed "No" measured better (``review``) changes no exit code but is listed
among the reasons with code 0, so it is never silently green. An expected failure (xfailed) is
not a failed test, but a claim its evidence shows violated still disagrees (exit 1).

Each evidence record carries the outcome of the test that recorded it (``outcome``): from
junit.xml when it lists the test, else the record's own (the chaos runner sets it), else None
(unknown). ``claims.counted`` says what each outcome lets a record count as.
"""
from __future__ import annotations

import datetime as _dt

from .. import __version__
from ..claims import AGREEMENTS, ORDER, OUTCOMES, catalogue, verdicts
from ..errors import EXIT_HARNESS, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATED
from .data import Run, declared_claims, designs_of, fault_windows, ops_of

MEANING = {
    EXIT_OK: "every checked claim agrees with its measurement",
    EXIT_VIOLATED: "claims violated",
    EXIT_USAGE: "usage error: pytest rejected the options or collected no tests",
    EXIT_HARNESS: "harness error: part of the run could not be carried out",
    EXIT_UNKNOWN: "nothing violated, but some verdicts are unknown",
}
PRECEDENCE = (EXIT_VIOLATED, EXIT_HARNESS, EXIT_USAGE, EXIT_UNKNOWN)


def outcome_of(ev: dict, result) -> str | None:
    """The outcome of the test that recorded ``ev``: junit.xml's when it lists the test (``result``),
    else the record's own ``outcome`` when it is one of OUTCOMES, else None (unknown)."""
    if result is not None:
        return result.outcome
    own = ev.get("outcome")
    return own if own in OUTCOMES else None


def expected_disagreements(events) -> set[str]:
    """Tests whose expected failure was an ``ExpectedDisagreement`` (recorded by the plugin), i.e.
    every claim but the expected ones held."""
    return {str((e.value or {}).get("name")) for e in events
            if e.f == "expected-disagreement" and e.type == "ok" and isinstance(e.value, dict)}


def collect_evidence(runs: list[Run]) -> tuple[list[dict], dict, list[str]]:
    """All runs' evidence (each tagged with its run and test outcome), notes about claims
    declared by skipped tests, and problems (evidence naming unknown claims)."""
    cat = catalogue()
    evidence: list[dict] = []
    skipped: dict[tuple[str, str], list[dict]] = {}
    problems: list[str] = []
    for r in runs:
        results = {t.nodeid: t for t in r.tests or []}
        expected = expected_disagreements(r.events)
        recorded = set()
        for ev in r.evidence:
            key = (ev.get("design"), ev.get("claim"))
            if key not in cat.claims:
                problems.append(f"run {r.run_id}: claims.json names unknown claim {key[0]}.{key[1]}; it is ignored")
                continue
            res = results.get(ev.get("test"))
            outcome = outcome_of(ev, res)
            if outcome == "xfailed" and ev.get("test") in expected:
                outcome = "expected-disagreement"
            evidence.append({**ev, "run": r.run_id, "run_key": r.key, "outcome": outcome})
            recorded.add((ev.get("test"), *key))
        # claims a test declares but did not record (needs the plugin to log markers)
        for nodeid, claims in declared_claims(r.events).items():
            res = results.get(nodeid)
            for key in claims:
                if key not in cat.claims or (nodeid, *key) in recorded:
                    continue
                if res is not None and res.outcome == "skipped":
                    skipped.setdefault(key, []).append({"test": nodeid, "run": r.run_id, "run_key": r.key,
                                                        "reason": res.message})
                    continue
                if res is None:
                    note = "the test did not finish (no outcome in junit.xml) and recorded no measurement"
                elif res.outcome == "passed":
                    note = "the test passed but recorded no measurement for this claim"
                else:
                    note = f"the test {res.outcome} before recording a measurement: {res.message[:300]}"
                evidence.append({"design": key[0], "claim": key[1], "test": nodeid, "measured": "unknown",
                                 "numbers": {}, "note": note, "checks": [], "synthetic": True,
                                 "run": r.run_id, "run_key": r.key, "outcome": res.outcome if res else None})
    return evidence, skipped, problems


def _exit(reasons: list[tuple[int, str]]) -> int:
    codes = {c for c, _ in reasons}
    for c in PRECEDENCE:
        if c in codes:
            return c
    return EXIT_OK


def build(runs: list[Run]) -> dict:
    """The summary dict (written as summary.json) for one run or several merged runs."""
    cat = catalogue()
    in_run: list[str] = []
    for r in runs:
        in_run += [d for d in designs_of(r) if d not in in_run]
    in_run = [d for d in cat.design_ids() if d in in_run]
    evidence, skipped, problems = collect_evidence(runs)
    cells = verdicts(evidence)
    for c in cells:
        c["design_not_run"] = c["design"] not in in_run
        c["skipped_tests"] = skipped.get((c["design"], c["claim"]), [])
        if c["measured"] is None and c["design_not_run"]:
            c["reason"] = "this design was not part of the run"
        elif c["measured"] is None and c["skipped_tests"]:
            c["reason"] = "its test was skipped: " + (c["skipped_tests"][0]["reason"] or "no reason given")

    reasons: list[tuple[int, str]] = []
    # a chaos run whose recovery failed (a heal, a node that never came back) was still judged on
    # what it recorded; that failure comes first and decides the exit code (3), violations or not
    recovery = [(r.run_id, x) for r in runs for x in (r.meta.get("harness_errors") or [])]
    for run_id, x in recovery:
        reasons.append((EXIT_HARNESS, f"run {run_id}: {x}"))
    bad = [c for c in cells if c["agreement"] == "disagree"]
    if bad:
        reasons.append((EXIT_VIOLATED, f"{len(bad)} claim{'s' if len(bad) != 1 else ''} violated: " + "; ".join(
            f"{c['design']}.{c['claim']} (claimed {c['claimed']}, measured {c['measured']})" for c in bad)))
    tests = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0,
             "junit": all(r.tests is not None for r in runs)}
    failed, harness_failed, errored = [], [], []
    for r in runs:
        for t in r.tests or []:
            tests["total"] += 1
            tests[t.outcome] = tests.get(t.outcome, 0) + 1
            if t.outcome == "error":
                errored.append(t)
            elif t.outcome == "failed":
                (harness_failed if t.harness_caused else failed).append(t)
    if failed:
        reasons.append((EXIT_VIOLATED, f"{len(failed)} test{'s' if len(failed) != 1 else ''} failed: "
                        + "; ".join(t.nodeid for t in failed)))
    if errored:
        reasons.append((EXIT_HARNESS, f"{len(errored)} test{'s' if len(errored) != 1 else ''} errored"
                        f" (in {', '.join(sorted({t.phase or 'setup' for t in errored}))}): " + "; ".join(t.nodeid for t in errored)))
    if harness_failed:
        reasons.append((EXIT_HARNESS, f"{len(harness_failed)} test{'s' if len(harness_failed) != 1 else ''} failed on a harness"
                        " error (fault or host): " + "; ".join(t.nodeid for t in harness_failed)))
    faults = {"total": 0, "applied": 0, "not_applied": 0, "not_healed": 0}
    checks = {"total": 0, "pass": 0, "fail": 0, "unknown": 0}
    for r in runs:
        end = max((e.t for e in r.events), default=0.0)
        for w in fault_windows(r.events, end):
            faults["total"] += 1
            if not w["applied"]:
                faults["not_applied"] += 1
                reasons.append((EXIT_HARNESS, f"run {r.run_id}: fault {w['id']} ({w['fault']} {w['target']}) was not applied: {w['error']}"))
                continue
            faults["applied"] += 1
            if w["healed"] is not True:
                faults["not_healed"] += 1
                what = "was never healed" if w["healed"] is None else f"could not be healed: {w['error']}"
                reasons.append((EXIT_HARNESS, f"run {r.run_id}: fault {w['id']} ({w['fault']} {w['target']}) {what}"))
        for op in ops_of([e for e in r.events if e.proc.startswith("harness")], "cluster-up"):
            if op.type != "ok":
                d = (op.invoke.value or {}).get("design") if isinstance(op.invoke.value, dict) else None
                reasons.append((EXIT_HARNESS, f"run {r.run_id}: the {d or '?'} cluster did not come up: {op.error}"))
        for c in r.checks:
            checks["total"] += 1
            v = str((c.get("result") or {}).get("valid", "unknown"))
            checks[v if v in checks else "unknown"] += 1
        if r.tests is None and r.meta.get("kind") == "chaos":
            if r.meta.get("duration_s") is None:  # set when the chaos run ended, however it ended
                reasons.append((EXIT_HARNESS, f"chaos run {r.run_id} did not finish (killed or crashed)"))
        elif r.tests is None:
            reasons.append((EXIT_HARNESS, f"run {r.run_id} did not finish: there is no junit.xml (the session was killed or crashed)"))
        pe = r.meta.get("pytest_exit")
        if pe in (2, 3):
            reasons.append((EXIT_HARNESS, f"run {r.run_id}: pytest was {'interrupted' if pe == 2 else 'stopped by an internal error'}"))
        elif pe in (4, 5):
            reasons.append((EXIT_USAGE, f"run {r.run_id}: pytest " + ("reported a usage error" if pe == 4 else "collected no tests")))
    unk = [c for c in cells if c["agreement"] == "unknown"]
    if unk:
        reasons.append((EXIT_UNKNOWN, f"{len(unk)} verdict{'s' if len(unk) != 1 else ''} unknown: "
                        + "; ".join(f"{c['design']}.{c['claim']}" for c in unk)))
    review = [c for c in cells if c["agreement"] == "review"]
    if review:
        reasons.append((EXIT_OK, f"{len(review)} claim{'s' if len(review) != 1 else ''} to review (measured better than a "
                        "disclosed No): " + "; ".join(f"{c['design']}.{c['claim']} (claimed No, measured {c['measured']})"
                                                      for c in review)))
    code = EXIT_HARNESS if recovery else _exit(reasons)

    counts = {a: 0 for a in AGREEMENTS}
    for c in cells:
        if not c["design_not_run"]:
            counts[c["agreement"]] += 1
    per_design = {d: {a: sum(1 for c in cells if c["design"] == d and c["agreement"] == a) for a in AGREEMENTS}
                  for d in cat.design_ids()}
    metas = [r.meta for r in runs]
    variants = []
    for r in runs:
        results = {t.nodeid: t.outcome for t in r.tests or []}
        for v in r.variants:
            try:
                claimed = cat.get(v["design"], v["claim"]).value
            except KeyError:
                continue
            m = v.get("measured")
            caught = "unknown" if m not in ORDER else ("caught" if ORDER[m] < ORDER[claimed] else "not caught")
            variants.append({**v, "claimed": claimed, "caught": caught, "run": r.run_id, "run_key": r.key,
                             "outcome": results.get(v.get("test"))})
    return {
        "schema": 1,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "generator": f"mailha {__version__}",
        "run_ids": [r.run_id for r in runs],
        "merged": len(runs) > 1,
        "started": min((m.get("started") for m in metas if m.get("started")), default=None),
        "duration_s": sum(float(m.get("duration_s") or 0) for m in metas) or None,
        "host": ", ".join(sorted({str((m.get("host") or {}).get("hostname")) for m in metas if m.get("host")})),
        "seeds": [m.get("seed") for m in metas],
        "commits": [((m.get("git") or {}).get("commit") or "")[:12] for m in metas],
        "exit_code": code,
        "exit_meaning": MEANING[code],
        "reasons": [{"exit_code": c, "text": t} for c, t in reasons],
        "designs_in_run": in_run,
        "named_only": cat.named_only,
        "counts": counts,
        "counts_by_design": per_design,
        "tests": tests,
        "checks": checks,
        "faults": faults,
        "problems": problems + [f"run {r.run_id}: {p}" for r in runs for p in r.problems],
        "cells": cells,
        "variants": variants,
    }
