"""``convergence``: after each heal or restart, did the replicas become identical in time?

From ``converge`` ops (``{after, seconds, identical}``, ``after`` = the fault id). Valid
when every converge op is ``ok`` with ``identical`` and ``seconds`` within ``bound_s``. A
converge op that did not succeed (never identical before the harness's deadline) fails
and names the fault it followed. Few converge ops are expected (one per heal), so the
default ``min_ok`` is 1.

A converge op with ``replicated: false`` says no user is held by two data nodes (one store
per user): there were no replicas to compare, so it proves nothing and is not counted. A run
whose converge ops are all of that kind is ``unknown``, never a pass. ``seconds`` is counted
from the op's ``started_at`` (the restart or heal) when the observer was given one.

Every healed fault must be followed by a converge op (one at the end of a scenario covers
every heal before it): a heal after the last converge op was never measured, and makes the
verdict ``unknown`` unless a failure is proven.
"""
from __future__ import annotations

from ..history import iter_fault_windows
from .common import CAP, measure, ops_of, rnd, threshold, value, verdict


def check(events, *, bound_s=None, min_ok=1) -> dict:
    bound = threshold("converge_s") if bound_s is None else float(bound_s)
    faults = {w["id"]: w for w in iter_fault_windows(events)}
    rows, failures = [], []
    vacuous, last_start = 0, None
    for op in ops_of(events, "converge"):
        v = value(op)
        after = v.get("after")
        if v.get("replicated") is False and op.type == "ok":
            vacuous += 1  # nothing replicated: nothing to converge
            continue
        last_start = op.start if last_start is None else max(last_start, op.start)
        w = faults.get(after, {})
        row = {"after": after, "fault": w.get("fault"), "target": w.get("target"), "type": op.type,
               "seconds": rnd(v.get("seconds")) if isinstance(v.get("seconds"), (int, float)) else None,
               "identical": bool(v.get("identical")) if op.type == "ok" else False,
               "t": rnd(op.start), "error": op.error if op.type != "ok" else None,
               "started_at": rnd(v["started_at"]) if isinstance(v.get("started_at"), (int, float)) else None}
        rows.append(row)
        what = f"after {after}" + (f" ({w.get('fault')} {w.get('target')})" if w else "")
        if op.type != "ok":
            failures.append(f"replicas never identical {what}: {op.error}")
        elif not row["identical"]:
            failures.append(f"replicas not identical {what}")
        elif row["seconds"] is None or row["seconds"] > bound:
            failures.append(f"replicas identical {row['seconds']} s {what} > {rnd(bound)} s")
    good = [r for r in rows if r["type"] == "ok" and r["identical"] and r["seconds"] is not None]
    worst = max((r["seconds"] for r in good), default=None)
    unmeasured = sorted((w for w in faults.values() if w["applied"] and w["healed"] and w["end"] is not None
                         and last_start is not None and w["end"] > last_start), key=lambda w: (w["end"], str(w["id"])))
    missing = None if rows else "no user is held by two data nodes: no replicas to converge" if vacuous else "no converge ops"
    if rows and unmeasured:
        w = unmeasured[0]
        missing = (f"{len(unmeasured)} heals not followed by a converge op (first: {w['id']} {w['fault']} "
                   f"{w['target']} healed at t={rnd(w['end'])})")
    out = verdict(failures, ok=len(good), min_ok=min_ok, missing=missing)
    out.update({"count": len(rows), "not_replicated": vacuous, "max_s": measure(worst, bound, "s", "<="),
                "converges": rows[:CAP]})
    return out
