"""``mailha chaos --shrink RUN_DIR``: the smallest schedule that still breaks the same claims.

A chaos run that violated claims is replayed with faults removed and windows shortened; a cut
is kept only when a replay of the cut schedule still violates one of the **target** claims (the
claims the run violated, or those named with ``--claim``). Faults are timing-dependent, so each
candidate is replayed up to ``repeat`` times and kept at its first violating replay; a cut that
never violates in ``repeat`` replays is dropped (it may still fail sometimes: the report says
how many replays each cut got).

Order of the cuts (delta debugging first, then shortening), repeated while a pass keeps one:

1. **remove faults**: halves of the schedule, then quarters, … down to single faults;
2. **halve a window**: each remaining fault's duration, not below ``MIN_WINDOW_S``;
3. **close gaps**: faults after a quiet gap longer than ``GAP_S`` move earlier, and the first
   fault starts after ``LEAD_S`` of workload; the run ends ``recovery_s`` after the last heal.

Outcomes:

- ``shrunk``: a smaller schedule still violates a target claim; it is written.
- ``not-shrunk``: the original schedule violated again, no cut did; the original is written.
- ``not-reproduced``: the original schedule never violated a target claim in ``repeat`` replays:
  there is nothing to shrink against (the finding is rarer than the replays could show).
- ``budget``: ``max_replays`` ran out; the smallest violating schedule found so far is written.

A replay that ended in a harness error (exit 3) counts as a replay that did not violate.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

from .schedule import FaultSpec, Schedule

#: a fault window is never shortened below this
MIN_WINDOW_S = 2.0
#: quiet gaps longer than this are closed
GAP_S = 5.0
#: workload before the first fault
LEAD_S = 10.0
#: replays of each candidate before its cut is dropped
REPEAT = 3
#: replays in all (the original's confirmation included)
MAX_REPLAYS = 40

Attempt = Callable[[Schedule], "set[str] | None"]


def violated(summary: dict, design: str) -> set[str]:
    """The claims of ``design`` a run's report marks ``disagree`` (summary.json's cells)."""
    return {c["claim"] for c in summary.get("cells") or []
            if c.get("design") == design and c.get("agreement") == "disagree"}


def weight(s: Schedule) -> tuple:
    """What shrinking lowers, in order: faults, total fault time, run length."""
    return (len(s.faults), round(sum(f.duration for f in s.faults), 3), s.duration_s)


def _with(s: Schedule, faults: list[FaultSpec], duration_s: float | None = None) -> Schedule:
    faults = sorted(faults, key=lambda f: (f.at, f.id))
    if duration_s is None:
        duration_s = s.duration_s
    last = max((f.end for f in faults), default=0.0)
    duration_s = max(duration_s, round(last + s.recovery_s, 3))
    return dataclasses.replace(s, faults=faults, duration_s=round(duration_s, 3))


def without(s: Schedule, ids) -> Schedule:
    ids = set(ids)
    return _with(s, [f for f in s.faults if f.id not in ids])


def halved(s: Schedule, fid: str) -> Schedule | None:
    """``fid``'s window halved (None when it is already at ``MIN_WINDOW_S``)."""
    out = []
    for f in s.faults:
        if f.id == fid:
            d = round(max(MIN_WINDOW_S, f.duration / 2), 3)
            if d >= f.duration:
                return None
            f = dataclasses.replace(f, duration=d)
        out.append(f)
    return _with(s, out)


def compacted(s: Schedule) -> Schedule | None:
    """Quiet gaps closed to ``GAP_S`` and the lead cut to ``LEAD_S``; order and overlaps kept
    (every fault after a gap moves by the same amount). None when nothing would move."""
    faults = sorted(s.faults, key=lambda f: (f.at, f.id))
    if not faults:
        return None
    shift, busy_until, out = 0.0, None, []
    for f in faults:
        if busy_until is None:
            shift = max(0.0, f.at - LEAD_S)
        elif f.at - busy_until > GAP_S:
            shift += f.at - busy_until - GAP_S
        busy_until = f.end if busy_until is None else max(busy_until, f.end)
        out.append(dataclasses.replace(f, at=round(f.at - shift, 3)))
    if shift <= 0.001 and out[0].at == faults[0].at:
        return None
    last = max(f.end for f in out)
    return _with(s, out, duration_s=round(last + s.recovery_s, 3))


def candidates(s: Schedule) -> Iterator[tuple[str, Schedule]]:
    """Smaller schedules to try, in order, each with a one-line description of its cut."""
    ids = [f.id for f in sorted(s.faults, key=lambda f: (f.at, f.id))]
    n = len(ids)
    size = n // 2
    while size >= 1:
        for i in range(0, n, size):
            chunk = ids[i:i + size]
            if len(chunk) < n:
                yield f"remove {', '.join(chunk)}", without(s, chunk)
        size //= 2
    for fid in ids:
        c = halved(s, fid)
        if c is not None:
            f = next(x for x in s.faults if x.id == fid)
            yield f"halve {fid} ({f.fault} {f.duration:g} s -> {c_dur(c, fid):g} s)", c
    c = compacted(s)
    if c is not None:
        yield f"close gaps (run {s.duration_s:g} s -> {c.duration_s:g} s)", c


def c_dur(s: Schedule, fid: str) -> float:
    return next(f.duration for f in s.faults if f.id == fid)


def _fails(sched: Schedule, attempt: Attempt, target: set[str], repeat: int, budget: list[int],
           log: list[dict], cut: str, after: Callable[[str, Schedule, bool], None]) -> bool:
    """Replay up to ``repeat`` times; True at the first replay that violates a target claim.
    ``after(cut, schedule, violated)`` follows every replay."""
    for k in range(1, repeat + 1):
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        got = attempt(sched)
        hit = sorted(target & (got or set()))
        log.append({"cut": cut, "replay": k, "faults": len(sched.faults), "violated": sorted(got or []),
                    "harness_error": got is None, "kept": bool(hit)})
        after(cut, sched, bool(hit))
        if hit:
            return True
    return False


def shrink(original: Schedule, target: set[str], attempt: Attempt, *, repeat: int = REPEAT,
           max_replays: int = MAX_REPLAYS, note: Callable[[str], None] = lambda _m: None,
           saw: Callable[[list[dict], "Schedule | None", list[str]], None] = lambda _log, _b, _k: None) -> dict:
    """Shrink ``original`` against ``target`` (claim ids). ``attempt(schedule)`` replays a
    schedule and returns the claims it violated (None for a harness error); ``saw(log, smallest,
    kept)`` follows every replay with the smallest violating schedule so far (None before the
    original violated) and the cuts kept (to save progress: an interrupted search keeps what it
    found). Returns the outcome, the smallest violating schedule (or None), the cuts kept and the
    log of every replay."""
    if not target:
        raise ValueError("no target claims: the run violated none, and none were named.")
    budget, log = [max(1, int(max_replays))], []
    best: Schedule | None = None
    kept: list[str] = []

    def after(cut: str, sched: Schedule, violated: bool) -> None:
        nonlocal best
        if violated:  # every candidate weighs less than the best so far: it is the new smallest
            best = sched
            if cut != "original":
                kept.append(cut)
        saw(log, best, list(kept))

    note(f"shrink: confirming that the original schedule ({len(original)} faults) violates "
         f"{', '.join(sorted(target))}")
    if not _fails(original, attempt, target, repeat, budget, log, "original", after):
        outcome = "budget" if budget[0] <= 0 else "not-reproduced"
        return {"outcome": outcome, "schedule": None, "log": log, "replays": len(log), "kept": []}
    exhausted = False
    while True:
        kept_one = False
        for cut, cand in candidates(best):
            if weight(cand) >= weight(best):
                continue
            if budget[0] <= 0:
                exhausted = True
                break
            note(f"shrink: trying '{cut}' ({len(cand)} faults, {budget[0]} replays left)")
            if _fails(cand, attempt, target, repeat, budget, log, cut, after):
                kept_one = True
                note(f"shrink: kept '{cut}': {len(best)} faults, {weight(best)[1]:g} s of faults, "
                     f"run {best.duration_s:g} s")
                break  # the smaller schedule's candidates next
        if not exhausted and budget[0] <= 0 and log and not log[-1]["kept"] and log[-1]["replay"] < repeat:
            exhausted = True  # the last cut did not get its replays
        if exhausted or not kept_one:
            break
    outcome = "budget" if exhausted else "shrunk" if kept else "not-shrunk"
    return {"outcome": outcome, "schedule": best, "log": log, "replays": len(log), "kept": kept}
