"""``split_brain``: was the virtual IP ever held by two nodes at once?

From ``vip-holders`` observations (each node's interfaces sampled every ~100 ms), per VIP.
An observation holds until the next one of the same VIP (the last one holds for no time).
Reports the most simultaneous holders, the time with two or more holders and those
intervals, the time with none (nobody answers on the VIP), and how long each node held it.

``handover_s``: VRRP hands a VIP over by the new master adding it before the old master has
processed the first advert that makes it step down, so a correct cluster shows overlaps of a
few milliseconds at every failback. Overlaps no longer than ``handover_s`` are reported as
``handovers``; longer ones are split brain. ``handover_s=0`` judges every overlap.
"""
from __future__ import annotations

from collections import defaultdict

from .common import CAP, ops_of, rnd, value, verdict


def check(events, *, min_ok=None, handover_s=0.5) -> dict:
    obs = defaultdict(list)  # vip -> [(t, holders)]
    failed = 0
    for op in ops_of(events, "vip-holders"):
        if op.type != "ok":
            failed += 1
            continue
        v = value(op)
        obs[str(v.get("vip"))].append((op.end, op.invoke.i, tuple(sorted(set(v.get("holders") or [])))))
    vips = {vip: _vip(sorted(o), handover_s) for vip, o in sorted(obs.items())}
    n = sum(len(o) for o in obs.values())
    failures = [f"VIP {vip} held by {len(r['split_intervals'][0]['holders'])} nodes at once "
                f"({', '.join(r['split_intervals'][0]['holders'])} from t={r['split_intervals'][0]['start']} "
                f"for {r['split_intervals'][0]['seconds']} s), {r['split_brain_s']} s in all"
                for vip, r in vips.items() if r["split_intervals"]]
    out = verdict(failures, ok=n, min_ok=min_ok, missing=None if obs else "no vip-holders observations")
    out.update({
        "observations": n,
        "failed_observations": failed,
        "max_holders": max((r["max_holders"] for r in vips.values()), default=None),
        "dual_holder_s": rnd(sum(r["dual_holder_s"] for r in vips.values())),
        "split_brain_s": rnd(sum(r["split_brain_s"] for r in vips.values())),
        "handovers": sum(r["handovers"] for r in vips.values()),
        "longest_handover_s": rnd(max((r["longest_handover_s"] for r in vips.values()), default=0.0)),
        "handover_s": handover_s,
        "no_holder_s": rnd(sum(r["no_holder_s"] for r in vips.values())),
        "vips": vips,
    })
    return out


def _vip(obs, handover_s: float) -> dict:
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
    dual_s = sum(iv[1] - iv[0] for iv in dual)
    none_s = sum(iv[1] - iv[0] for iv in none_)
    last_t = obs[-1][0]
    # an overlap still open at the last observation cannot be shown to be a handover
    split = [iv for iv in dual if iv[1] - iv[0] > handover_s or iv[1] >= last_t]
    hand = [iv for iv in dual if iv not in split]
    return {
        "observations": len(obs),
        "span": [rnd(obs[0][0]), rnd(obs[-1][0])],
        "max_holders": max(len(h) for (_t, _i, h) in obs),
        "dual_holder_s": rnd(dual_s),
        "dual_intervals": [{"start": rnd(s), "end": rnd(e), "seconds": rnd(e - s), "holders": sorted(h)}
                           for s, e, h in dual][:CAP],
        "split_intervals": [{"start": rnd(s), "end": rnd(e), "seconds": rnd(e - s), "holders": sorted(h)}
                            for s, e, h in split][:CAP],
        "split_brain_s": rnd(sum(e - s for s, e, _h in split)),
        "handovers": len(hand),
        "longest_handover_s": rnd(max((e - s for s, e, _h in hand), default=0.0)),
        "no_holder_s": rnd(none_s),
        "longest_no_holder_s": rnd(max((e - s for s, e, _h in none_), default=0.0)),
        "held_s": {h: rnd(s) for h, s in sorted(held.items())},
    }


def _extend(intervals: list, start: float, end: float, holders) -> None:
    """Append [start, end], merging with the previous interval when they are contiguous."""
    if intervals and intervals[-1][1] == start:
        s, _e, h = intervals[-1]
        intervals[-1] = (s, end, tuple(sorted(set(h) | set(holders))))
    else:
        intervals.append((start, end, tuple(holders)))
