"""``availability``: what clients of each protocol saw through the VIP during failover.

From ``probe`` ops (a new connection every ~100 ms; ``node`` = who answered), per
protocol: availability = ok / probes, and the **longest gap** between successive ``ok``
completions — the interruption a client saw. If the first (or last) probes failed, the gap
from the first probe's start (to the last probe's end) counts too. Around the longest gap:
who answered before and after (the failover from A to B). Per fault window: the longest gap
overlapping it and the failed probes inside it.

From ``session`` ops (long-lived sessions): a session **opened** when its completion names
the node it was open on or it did some operations; ``broken`` = opened sessions that ended
in ``fail`` (the server broke them) plus sessions the harness's own thread lost to an
unexpected exception (error ``crashed: …``, counted as broken: a failure the harness saw);
``failed_attempts`` = connection attempts that never opened (counted, not in the ratio —
the probes measure those). ``broken_ratio`` = broken / ended sessions that opened.

**Outcomes**, per protocol in ``protos`` (default: every protocol with probes or sessions in
the history — callers pass the topology's protocols, since a protocol with no operation at
all cannot be seen otherwise): it fails when the longest gap exceeds ``bound_s`` (threshold
``no_interruption_s``), availability is below ``min_availability`` (threshold
``failover_min_availability``) or the broken ratio exceeds ``max_broken_ratio`` (threshold
``broken_sessions_ratio``). Both floors are always on: pass a number to set another bound.
It is ``unknown`` (unless a failure is proven) when a protocol has no probes (its gap is not
measured, sessions alone do not say), when fewer than ``min_ok`` probes succeeded, when an
applied fault's window (to its heal, or to the end of the history if never healed) began
more than ``bound_s`` before the protocol's first probe or ended more than ``bound_s`` after
its last one — an outage there was not observed — or when a session never completed (its
outcome is unknown).
"""
from __future__ import annotations

from collections import defaultdict

from ..history import iter_fault_windows
from .common import CRASHED, counter, measure, names, ops_of, rnd, threshold, touches, value, verdict, within


def check(events, *, protos=None, bound_s=None, min_availability=None, max_broken_ratio=None, min_ok=None,
          fault_grace_s=0.0) -> dict:
    """``min_availability`` / ``max_broken_ratio`` / ``bound_s``: None takes the threshold's default."""
    bound = threshold("no_interruption_s") if bound_s is None else float(bound_s)
    min_availability = threshold("failover_min_availability") if min_availability is None else float(min_availability)
    max_broken_ratio = threshold("broken_sessions_ratio") if max_broken_ratio is None else float(max_broken_ratio)
    history_end = max((e.t for e in events), default=None)
    probes = defaultdict(list)
    for op in ops_of(events, "probe", proc_prefix="probe-"):
        probes[value(op).get("proto") or op.proc.removeprefix("probe-")].append(op)
    sessions = defaultdict(list)
    for op in ops_of(events, "session", proc_prefix="session-"):
        sessions[value(op).get("proto") or op.proc.split("-")[1]].append(op)
    windows = [w for w in iter_fault_windows(events) if w["applied"] and w["start"] is not None]
    wanted = names(protos) or sorted(set(probes) | set(sessions))

    out_protos, failures, missing, unseen = {}, [], [], []
    for proto in wanted:
        r = _proto(probes.get(proto, []), windows, bound, min_availability, fault_grace_s)
        r["sessions"] = _sessions(sessions.get(proto, []), max_broken_ratio)
        out_protos[proto] = r
        if not r["probes"]:
            missing.append(proto)
        else:
            unseen += _unobserved(proto, r, windows, history_end, bound)
        if r["sessions"]["unfinished"]:
            unseen.append(f"{proto}: {r['sessions']['unfinished']} sessions never completed")
        if r["probes"] and not within(r["longest_gap"]["value"], bound, "<="):
            failures.append(f"{proto}: longest gap {r['longest_gap']['value']} s > {rnd(bound)} s")
        if r["probes"] and not within(r["availability"]["value"], min_availability, ">="):
            failures.append(f"{proto}: availability {r['availability']['value']} < {min_availability}")
        s = r["sessions"]
        if s["broken_ratio"]["value"] is not None and not within(s["broken_ratio"]["value"], max_broken_ratio, "<="):
            failures.append(f"{proto}: {s['broken']} of {s['ended']} sessions broken > {max_broken_ratio}")
    # every protocol needs min_ok successful probes (or sessions) before the run may pass
    ok_least = min((max(r["ok"], r["sessions"]["ok"]) for r in out_protos.values()), default=0)
    notes = ([f"no probes for {', '.join(missing)}: the gap is not measured"] if missing else []) + unseen
    out = verdict(failures, ok=ok_least, min_ok=min_ok,
                  missing="; ".join(notes) if notes else None if wanted else "no probes or sessions")
    out.update({"bound_s": rnd(bound), "min_availability": rnd(min_availability),
                "max_broken_ratio": rnd(max_broken_ratio), "protos_from": "caller" if protos else "history",
                "protos": out_protos})
    return out


def _unobserved(proto: str, r: dict, windows: list[dict], history_end, bound: float) -> list[str]:
    """Fault windows the probes did not cover: one that began more than ``bound`` before the
    first probe, or ended (was healed; never healed: the end of the history) more than
    ``bound`` after the last probe ended — an outage there would not show."""
    out = []
    first, last = r["span"]
    for w in sorted(windows, key=lambda w: (w["start"], str(w["id"]))):
        end = w["end"] if w["end"] is not None else history_end
        if w["start"] < first - bound or (end is not None and end > last + bound):
            out.append(f"{proto}: probes ran from t={first} to t={last}, fault {w['id']} ({w['fault']} {w['target']}) "
                       f"from t={rnd(w['start'])} to t={rnd(end)}: not covered")
    return out


def _proto(ops, windows, bound, min_availability, grace) -> dict:
    ops = sorted(ops, key=lambda o: (o.start, o.invoke.i))
    oks = sorted((o for o in ops if o.type == "ok"), key=lambda o: (o.end, o.invoke.i))
    failed = [o for o in ops if o.type != "ok"]
    n = len(ops)
    res: dict = {"probes": n, "ok": len(oks), "failed": len(failed),
                 "crashed": sum(1 for o in failed if str(o.error or "").startswith(CRASHED)),
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
    crashed = [o for o in ops if o.type == "fail" and str(o.error or "").startswith(CRASHED)]
    opened = [o for o in ops if o.type in ("ok", "fail") and (o.node or (value(o).get("ops") or 0) > 0 or o in crashed)]
    broken = [o for o in opened if o.type == "fail"]
    attempts = [o for o in ops if o.type == "fail" and o not in opened]
    unfinished = [o for o in ops if o.done is None]
    return {"sessions": len(ops), "ok": len(opened) - len(broken), "ended": len(opened), "broken": len(broken),
            "crashed": len(crashed), "failed_attempts": len(attempts), "unfinished": len(unfinished),
            "broken_ratio": measure(len(broken) / len(opened) if opened else None, max_broken_ratio, "", "<="),
            "errors": counter(o.error for o in broken + attempts)}
