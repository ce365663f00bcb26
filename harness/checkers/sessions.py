"""``sessions``: which long-lived client sessions a fault broke, and whose.

From ``session`` ops (IMAP connections and webmail logins kept open by ``harness.probes.Sessions``;
``fail`` = the server broke it) and the applied fault windows. For each fault window:

- **open**: sessions open when the fault was invoked (started before, not ended before) — not
  when its application was confirmed: a graceful stop ends sessions while it runs, seconds before
  the node is confirmed down, and those sessions were broken by it;
- **broken**: of those, the ones that ended in ``fail`` before the fault was healed plus
  ``grace_s`` (the client saw its session die: it must reconnect, a webmail user must log in
  again);
- the users of the broken sessions.

Totals over all windows: ``open``, ``broken``, ``broken_ratio`` = broken / open (a session open
across two faults counts for each), held against ``max_broken_ratio`` (threshold
``broken_sessions_ratio``), and ``users_broken``: the complete sorted list of users whose
session broke.

``unknown`` when no fault was applied, or no session was open at any fault (nothing to judge);
``fail`` when the ratio is over the bound.
"""
from __future__ import annotations

from ..history import iter_fault_windows
from .common import addr, measure, ops_of, rnd, threshold, value, verdict, within


def check(events, *, max_broken_ratio=None, grace_s=None, min_ok=1) -> dict:
    bound = threshold("broken_sessions_ratio") if max_broken_ratio is None else float(max_broken_ratio)
    grace = threshold("stops_responding_s") if grace_s is None else float(grace_s)
    sessions = ops_of(events, "session", proc_prefix="session-")
    windows = sorted((w for w in iter_fault_windows(events) if w["applied"] and w["start"] is not None),
                     key=lambda w: (w["start"], str(w["id"])))
    last = max((e.t for e in events), default=0.0)
    per, users, total_open, total_broken = [], set(), 0, 0
    for w in windows:
        start = w["invoked"] if w.get("invoked") is not None else w["start"]
        end = w["end"] if w["end"] is not None else last
        open_ = [o for o in sessions if o.start < start and (o.end is None or o.end >= start)]
        broken = [o for o in open_ if o.type == "fail" and o.end is not None and o.end <= end + grace]
        who = sorted({addr(value(o).get("user", "")) for o in broken} - {""})
        users |= set(who)
        total_open += len(open_)
        total_broken += len(broken)
        per.append({"id": w["id"], "fault": w["fault"], "target": w["target"], "open": len(open_),
                    "broken": len(broken), "by_proto": _by_proto(broken), "users": who})
    ratio = total_broken / total_open if total_open else None
    failures = [] if ratio is None or within(ratio, bound, "<=") else [
        f"{total_broken} of {total_open} sessions open at a fault were broken by it (share {ratio:.2f} > {bound})"]
    missing = "no fault was applied" if not windows else (
        "no client session was open when a fault hit" if not total_open else None)
    out = verdict(failures, ok=total_open, min_ok=min_ok, missing=missing)
    out.update({"open": total_open, "broken": total_broken,
                "broken_ratio": measure(ratio, bound, "", "<="), "grace_s": rnd(grace),
                "users_broken": sorted(users), "faults": per})
    return out


def _by_proto(ops) -> dict:
    out: dict[str, int] = {}
    for o in ops:
        p = str(value(o).get("proto") or "?")
        out[p] = out.get(p, 0) + 1
    return dict(sorted(out.items()))
