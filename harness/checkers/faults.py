"""``faults``: was every scheduled fault applied and confirmed, and every applied fault healed?

A fault that was not applied (``fail``, never completed, or ``confirmed`` false) means the
test did not exercise what it claims, so it fails the run, naming the fault id, type,
target and error. ``require_heal=False`` allows faults left in place on purpose (e.g. a
node killed for good at the end of a test). The default ``min_ok`` is 1: a run without a
single applied fault is ``unknown``.
"""
from __future__ import annotations

from ..history import NEMESIS
from .common import CAP, ops_of, rnd, value, verdict


def check(events, *, require_heal=True, min_ok=1) -> dict:
    faults: dict[str, dict] = {}
    problems = []
    for op in ops_of(events, ("fault", "heal"), proc_prefix=NEMESIS):
        iv = op.invoke.value or {}
        fid = iv.get("id")
        v = value(op)
        confirmed = bool(v["confirmed"]) if "confirmed" in v else True  # a text says how it was confirmed
        note = v.get("confirmed") if op.type == "ok" and isinstance(v.get("confirmed"), str) else None
        if op.f == "fault":
            f = faults[fid] = {"id": fid, "fault": iv.get("fault"), "target": iv.get("target"),
                               "start": rnd(op.end if op.done else op.start), "end": None,
                               "applied": op.type == "ok" and confirmed, "healed": False,
                               "confirmed": note, "heal_confirmed": None, "heal_tried": False}
            if not f["applied"]:
                problems.append(_problem(f, "apply", op.error if op.type != "ok" else "not confirmed"))
            continue
        f = faults.get(fid)
        if f is None:
            problems.append({"id": fid, "fault": None, "target": None, "stage": "heal",
                             "error": "heal of a fault that was never scheduled"})
            continue
        f["heal_tried"] = True
        f["healed"] = op.type == "ok" and confirmed
        f["heal_confirmed"] = note
        f["end"] = rnd(op.end) if op.done else None
        if f["applied"] and not f["healed"]:  # a heal that was tried and failed is always a problem
            problems.append(_problem(f, "heal", op.error if op.type != "ok" else "not confirmed"))
    for f in faults.values():
        tried = f.pop("heal_tried")
        if require_heal and f["applied"] and not tried:
            problems.append(_problem(f, "heal", "never healed"))
    rows = sorted(faults.values(), key=lambda f: (f["start"] or 0.0, str(f["id"])))
    applied = sum(1 for f in rows if f["applied"])
    failures = [f"{p['stage']} {p['id']} ({p['fault']} {p['target']}): {p['error']}" for p in problems]
    out = verdict(failures, ok=applied, min_ok=min_ok, missing=None if faults else "no faults scheduled")
    out.update({"scheduled": len(rows), "applied": applied, "healed": sum(1 for f in rows if f["healed"]),
                "problems": problems[:CAP],
                "faults": [{**f, "seconds": rnd(f["end"] - f["start"]) if f["end"] is not None and f["start"] is not None
                            else None} for f in rows][:CAP]})
    return out


def _problem(f: dict, stage: str, error) -> dict:
    return {"id": f["id"], "fault": f["fault"], "target": f["target"], "stage": stage, "error": error}
