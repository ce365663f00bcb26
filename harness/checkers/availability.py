"""``availability``: what clients of each protocol saw through the VIP during failover.

From ``probe`` ops (a new connection every ~100 ms; ``node`` = who answered), per
protocol: availability = ok / probes, and the **longest gap** between successive ``ok``
completions — the interruption a client saw. If the first (or last) probes failed, the gap
from the first probe's start (to the last probe's end) counts too. Around the longest gap:
who answered before and after (the failover from A to B). Per fault window: the longest gap
overlapping it and the failed probes inside it.

From ``session`` ops (long-lived sessions): ``broken`` = sessions the server broke
(``fail``), ``broken_ratio`` of the sessions that ended.
"""
from __future__ import annotations

from collections import defaultdict

from ..history import iter_fault_windows
from .common import counter, measure, names, ops_of, rnd, threshold, touches, value, verdict, within


def check(events, *, protos=None, bound_s=None, min_availability=None, max_broken_ratio=None, min_ok=None,
          fault_grace_s=0.0) -> dict:
    bound = threshold("no_interruption_s") if bound_s is None else float(bound_s)
    probes = defaultdict(list)
    for op in ops_of(events, "probe", proc_prefix="probe-"):
        probes[value(op).get("proto") or op.proc.removeprefix("probe-")].append(op)
    sessions = defaultdict(list)
    for op in ops_of(events, "session", proc_prefix="session-"):
        sessions[value(op).get("proto") or op.proc.split("-")[1]].append(op)
    windows = [w for w in iter_fault_windows(events) if w["applied"] and w["start"] is not None]
    wanted = names(protos) or sorted(set(probes) | set(sessions))

    out_protos, failures, missing = {}, [], []
    for proto in wanted:
        r = _proto(probes.get(proto, []), windows, bound, min_availability, fault_grace_s)
        r["sessions"] = _sessions(sessions.get(proto, []), max_broken_ratio)
        out_protos[proto] = r
        if not r["probes"] and not r["sessions"]["sessions"]:
            missing.append(proto)
        if r["probes"] and not within(r["longest_gap"]["value"], bound, "<="):
            failures.append(f"{proto}: longest gap {r['longest_gap']['value']} s > {rnd(bound)} s")
        if r["probes"] and not within(r["availability"]["value"], min_availability, ">="):
            failures.append(f"{proto}: availability {r['availability']['value']} < {min_availability}")
        s = r["sessions"]
        if s["broken_ratio"]["value"] is not None and not within(s["broken_ratio"]["value"], max_broken_ratio, "<="):
            failures.append(f"{proto}: {s['broken']} of {s['ended']} sessions broken > {max_broken_ratio}")
    # every protocol needs min_ok successful probes (or sessions) before the run may pass
    ok_least = min((max(r["ok"], r["sessions"]["ok"]) for r in out_protos.values()), default=0)
    out = verdict(failures, ok=ok_least, min_ok=min_ok,
                  missing=(f"no probes or sessions for {', '.join(missing)}" if missing else
                           None if wanted else "no probes or sessions"))
    out.update({"bound_s": rnd(bound), "protos": out_protos})
    return out


def _proto(ops, windows, bound, min_availability, grace) -> dict:
    ops = sorted(ops, key=lambda o: (o.start, o.invoke.i))
    oks = sorted((o for o in ops if o.type == "ok"), key=lambda o: (o.end, o.invoke.i))
    failed = [o for o in ops if o.type != "ok"]
    n = len(ops)
    res: dict = {"probes": n, "ok": len(oks), "failed": len(failed),
                 "availability": measure(len(oks) / n if n else None, min_availability, "", ">="),
                 "errors": counter(o.error for o in failed),
                 "answered_by": counter(o.node for o in oks)}
    if not ops:
        res.update({"longest_gap": measure(None, bound, "s", "<="), "longest_gap_at": None, "fault_windows": []})
        return res
    first = ops[0].start
    last = max((o.end if o.end is not None else o.start) for o in ops)
    gaps = _gaps(oks, first, last, first_failed=ops[0].type != "ok")
    worst = max(gaps, key=lambda g: (g["end"] - g["start"], -g["start"])) if gaps else None
    res["longest_gap"] = measure(worst["end"] - worst["start"] if worst else 0.0, bound, "s", "<=")
    res["longest_gap_at"] = _show(worst)
    res["span"] = [rnd(first), rnd(last)]
    per_window = []
    for w in sorted(windows, key=lambda w: (w["start"], str(w["id"]))):
        span = (w["start"], (w["end"] if w["end"] is not None else last) + grace)
        over = [g for g in gaps if touches((g["start"], g["end"]), span)]
        g = max(over, key=lambda g: (g["end"] - g["start"], -g["start"])) if over else None
        per_window.append({"id": w["id"], "fault": w["fault"], "target": w["target"],
                           "start": rnd(span[0]), "end": rnd(w["end"]),
                           "gap": rnd(g["end"] - g["start"]) if g else None, "gap_at": _show(g),
                           "failed": sum(1 for o in failed if span[0] <= o.start <= span[1])})
    res["fault_windows"] = per_window
    return res


def _gaps(oks, first, last, first_failed: bool) -> list[dict]:
    """Intervals without an ok completion: between successive oks, plus the edges when the
    first or last probes failed (from the first probe's start / to the last probe's end)."""
    gaps = []
    if not oks:
        return [{"start": first, "end": last, "before": None, "after": None}]
    if first_failed:  # concurrent probers: only the earliest probe's failure opens the window
        gaps.append({"start": first, "end": oks[0].end, "before": None, "after": oks[0].node})
    for a, b in zip(oks, oks[1:]):
        gaps.append({"start": a.end, "end": b.end, "before": a.node, "after": b.node})
    if last > oks[-1].end:
        gaps.append({"start": oks[-1].end, "end": last, "before": oks[-1].node, "after": None})
    return gaps


def _show(g) -> dict | None:
    if g is None:
        return None
    return {"start": rnd(g["start"]), "end": rnd(g["end"]), "before": g["before"], "after": g["after"]}


def _sessions(ops, max_broken_ratio) -> dict:
    ended = [o for o in ops if o.type in ("ok", "fail")]  # info: still open when the run ended
    broken = [o for o in ended if o.type == "fail"]
    return {"sessions": len(ops), "ok": len(ended) - len(broken), "ended": len(ended), "broken": len(broken),
            "broken_ratio": measure(len(broken) / len(ended) if ended else None, max_broken_ratio, "", "<="),
            "errors": counter(o.error for o in broken)}
