"""``split_brain``: was the virtual IP ever held by two nodes at once?

From ``vip-holders`` observations (each node's interfaces watched by the observer), per VIP.
An observation holds until the next one of the same VIP (the last one holds for no time).
Reports the most simultaneous holders, the time with two or more holders and those
intervals, the time with none (nobody answers on the VIP), and how long each node held it.

**Moves and handovers.** VRRP hands a VIP over by the new master adding it before the old
master has processed the first advert that makes it step down, so a correct cluster shows an
overlap of a few milliseconds when the holder changes. A **move** is a change of holder: the
stretch between two periods with exactly one holder (or the first observations before the
first such period, or the last ones after the last) whose holders differ — from nobody or
from A to B, or from A to nobody. Per move at most **one** overlap (two or more holders) is a
``handover``, and only when the move's overlaps last ``handover_s`` or less in all
(threshold ``vip_handover_s``). Everything else is split brain and fails: an overlap in a
move whose overlaps exceed ``handover_s`` in all, a second overlap in one move, an overlap
where the holder did not change (A, A+B, A), and an overlap still open at the last
observation (it cannot be shown to be a handover). ``handover_s=0`` judges every overlap.

**Blind stretches.** A failed observation (the observer could not read the cluster) leaves
its VIP unobserved from that observation's start until the next successful observation of
that VIP (or the end of the history if none follows); a failed observation naming no VIP
blinds every VIP. A blind stretch longer than ``handover_s`` could hide a split brain longer
than a handover: the verdict is then ``unknown`` unless a split brain is proven from what was
observed. Shorter blind stretches are reported (``blind_s``, ``blind_intervals``) and tolerated.

``vips``: the virtual IPs that must be observed (the topology's); one without a successful
observation is ``unknown``. Fewer than ``min_ok`` observations in all is ``unknown``.
"""
from __future__ import annotations

from collections import defaultdict

from .common import CAP, names, ops_of, rnd, threshold, value, verdict


def check(events, *, min_ok=None, handover_s=None, vips=None) -> dict:
    handover = threshold("vip_handover_s") if handover_s is None else float(handover_s)
    obs = defaultdict(list)  # vip -> [(t, i, holders)]
    failed = []  # (t, vip or None, error)
    for op in ops_of(events, "vip-holders"):
        v = value(op)
        if op.type != "ok":
            failed.append((op.start, str(v["vip"]) if v.get("vip") is not None else None, op.error))
            continue
        obs[str(v.get("vip"))].append((op.end, op.invoke.i, tuple(sorted(set(v.get("holders") or [])))))
    wanted = sorted(set(names(vips) or []) | set(obs) | {vip for (_t, vip, _e) in failed if vip is not None})
    history_end = max((e.t for e in events), default=None)
    per_vip = {vip: _vip(sorted(obs.get(vip, [])), handover,
                         _blind(sorted(o[0] for o in obs.get(vip, [])),
                                sorted(t for (t, v, _e) in failed if v in (vip, None)), history_end))
               for vip in wanted}
    n = sum(len(o) for o in obs.values())
    failures = []
    for vip, r in per_vip.items():
        if r.get("split_intervals"):
            first = r["split_intervals"][0]
            failures.append(f"VIP {vip} held by {len(first['holders'])} nodes at once ({', '.join(first['holders'])} "
                            f"from t={first['start']} for {first['seconds']} s), {r['split_brain_s']} s in all: "
                            f"{first['why']}")
    unseen = [vip for vip, r in per_vip.items() if not r["observations"]]
    blind = [(vip, iv) for vip, r in per_vip.items() for iv in r["blind_intervals"] if iv["seconds"] > handover]
    missing = None
    if unseen:
        missing = f"no successful vip-holders observation of {', '.join(unseen)}"
    elif blind:
        vip, iv = max(blind, key=lambda x: (x[1]["seconds"], -x[1]["start"]))
        missing = (f"the observer was blind on VIP {vip} for {iv['seconds']} s from t={iv['start']} "
                   f"({len(failed)} failed observations): a split brain longer than a handover could hide there")
    elif not obs:
        missing = "no vip-holders observations"
    out = verdict(failures, ok=n, min_ok=min_ok, missing=missing)
    hand = [r for r in per_vip.values() if r["observations"]]
    out.update({
        "observations": n,
        "failed_observations": len(failed),
        "failed_errors": sorted({str(e) for (_t, _v, e) in failed})[:CAP],
        "max_holders": max((r["max_holders"] for r in hand), default=None),
        "dual_holder_s": rnd(sum(r["dual_holder_s"] for r in hand)),
        "split_brain_s": rnd(sum(r["split_brain_s"] for r in hand)),
        "moves": sum(r["moves"] for r in hand),
        "handovers": sum(r["handovers"] for r in hand),
        "longest_handover_s": rnd(max((r["longest_handover_s"] for r in hand), default=0.0)),
        "handover_s": rnd(handover),
        "no_holder_s": rnd(sum(r["no_holder_s"] for r in hand)),
        "blind_s": rnd(sum(r["blind_s"] for r in per_vip.values())),
        "vips": per_vip,
    })
    return out


def _vip(obs, handover: float, blind: list[tuple[float, float]]) -> dict:
    blind_rows = [{"start": rnd(s), "end": rnd(e), "seconds": rnd(e - s)} for s, e in blind]
    if not obs:
        return {"observations": 0, "blind_s": rnd(sum(e - s for s, e in blind)), "blind_intervals": blind_rows[:CAP]}
    dual, none_ = [], []
    held: dict[str, float] = defaultdict(float)
    for (t, _i, holders), nxt in zip(obs, obs[1:] + [None]):
        end = nxt[0] if nxt else t
        for h in holders:
            held[h] += end - t
        if len(holders) >= 2:
            _extend(dual, t, end, holders)
        elif not holders:
            _extend(none_, t, end, ())
    moves, split, hand = _judge(obs, handover)
    return {
        "observations": len(obs),
        "span": [rnd(obs[0][0]), rnd(obs[-1][0])],
        "max_holders": max(len(h) for (_t, _i, h) in obs),
        "moves": moves,
        "dual_holder_s": rnd(sum(iv[1] - iv[0] for iv in dual)),
        "dual_intervals": [_row(iv) for iv in dual][:CAP],
        "split_intervals": [{**_row(iv), "why": why} for iv, why in split][:CAP],
        "split_brain_s": rnd(sum(iv[1] - iv[0] for iv, _why in split)),
        "handovers": len(hand),
        "longest_handover_s": rnd(max((e - s for s, e, _h in hand), default=0.0)),
        "no_holder_s": rnd(sum(iv[1] - iv[0] for iv in none_)),
        "longest_no_holder_s": rnd(max((e - s for s, e, _h in none_), default=0.0)),
        "held_s": {h: rnd(s) for h, s in sorted(held.items())},
        "blind_s": rnd(sum(e - s for s, e in blind)),
        "blind_intervals": blind_rows[:CAP],
    }


def _judge(obs, handover: float) -> tuple[int, list, list]:
    """-> (moves, [(overlap, why it is split brain)], [handover overlaps]) for one VIP.

    The observations are cut into runs of one and the same holder and the stretches between
    them (or before the first / after the last run); each stretch is a transition from the
    holder before (None at the start) to the holder after (None at the end: nobody, or an
    overlap still open), and a move when the two differ. Two runs of different holders next
    to each other are a move without overlap."""
    last = len(obs) - 1
    groups: list[dict] = []  # {"holder": str | None, "obs": [index]}; holder None = a stretch between runs
    for k, (_t, _i, holders) in enumerate(obs):
        holder = holders[0] if len(holders) == 1 else None
        if groups and groups[-1]["holder"] == holder:
            groups[-1]["obs"].append(k)
        else:
            groups.append({"holder": holder, "obs": [k]})
    moves, split, hand = 0, [], []
    for g, grp in enumerate(groups):
        before = groups[g - 1]["holder"] if g > 0 else None
        if grp["holder"] is not None:
            moves += g > 0 and before is not None and before != grp["holder"]  # A then B directly
            continue
        after = groups[g + 1]["holder"] if g + 1 < len(groups) else None
        is_move = before != after
        moves += is_move
        overlaps: list[tuple[float, float, tuple]] = []
        for k in grp["obs"]:
            t, _i, holders = obs[k]
            if len(holders) >= 2:
                _extend(overlaps, t, obs[k + 1][0] if k < last else t, holders)
        total = sum(e - s for s, e, _h in overlaps)
        for n, iv in enumerate(overlaps):
            if grp["obs"][-1] == last and len(obs[last][2]) >= 2 and iv is overlaps[-1]:
                split.append((iv, "still open at the last observation"))
            elif not is_move:
                split.append((iv, f"the holder did not change ({before or 'nobody'} before and after)"))
            elif n > 0:
                split.append((iv, f"overlap {n + 1} in one move of the VIP (at most one is a handover)"))
            elif total > handover:
                split.append((iv, f"the move's overlaps last {rnd(total)} s > handover {rnd(handover)} s"))
            else:
                hand.append(iv)
    return moves, split, hand


def _blind(ok_times: list[float], failed_times: list[float], history_end: float | None) -> list[tuple[float, float]]:
    """Stretches without a usable observation: from each failed observation to the next
    successful one (or the history's end), merged."""
    out: list[tuple[float, float]] = []
    for t in failed_times:
        nxt = next((x for x in ok_times if x > t), None)
        end = nxt if nxt is not None else max(t, history_end if history_end is not None else t)
        if out and t <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((t, end))
    return out


def _row(iv) -> dict:
    s, e, h = iv
    return {"start": rnd(s), "end": rnd(e), "seconds": rnd(e - s), "holders": sorted(h)}


def _extend(intervals: list, start: float, end: float, holders) -> None:
    """Append [start, end], merging with the previous interval when they are contiguous."""
    if intervals and intervals[-1][1] == start:
        s, _e, h = intervals[-1]
        intervals[-1] = (s, end, tuple(sorted(set(h) | set(holders))))
    else:
        intervals.append((start, end, tuple(holders)))
