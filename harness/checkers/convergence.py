"""``convergence``: after each heal or restart, did the replicas become identical in time?

From ``converge`` ops (``{after, seconds, identical}``, ``after`` = the fault id). Valid
when every converge op is ``ok`` with ``identical`` and ``seconds`` within ``bound_s``. A
converge op that did not succeed (never identical before the harness's deadline) fails
and names the fault it followed. Few converge ops are expected (one per heal), so the
default ``min_ok`` is 1.
"""
from __future__ import annotations

from ..history import iter_fault_windows
from .common import CAP, measure, ops_of, rnd, threshold, value, verdict


def check(events, *, bound_s=None, min_ok=1) -> dict:
    bound = threshold("converge_s") if bound_s is None else float(bound_s)
    faults = {w["id"]: w for w in iter_fault_windows(events)}
    rows, failures = [], []
    for op in ops_of(events, "converge"):
        v = value(op)
        after = v.get("after")
        w = faults.get(after, {})
        row = {"after": after, "fault": w.get("fault"), "target": w.get("target"), "type": op.type,
               "seconds": rnd(v.get("seconds")) if isinstance(v.get("seconds"), (int, float)) else None,
               "identical": bool(v.get("identical")) if op.type == "ok" else False,
               "t": rnd(op.start), "error": op.error if op.type != "ok" else None}
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
    out = verdict(failures, ok=len(good), min_ok=min_ok, missing=None if rows else "no converge ops")
    out.update({"count": len(rows), "max_s": measure(worst, bound, "s", "<="), "converges": rows[:CAP]})
    return out
