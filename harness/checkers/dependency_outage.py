"""``dependency_outage``: a dependency every login needs (a directory, a shared store) goes away
and comes back. What did users meet while it was away, and how long after it answered again
was everybody who had failed served again?

The outage is the nemesis fault on ``dependency`` (or ``fault_id``): from the moment it was
confirmed applied (``start``) to the moment its heal was confirmed — the dependency answering
again (``end``).

Attempts read: grouped probes (``probe`` with ``proto`` = ``imap@proxy1``: a login or, for
SMTP, a RCPT through that group's front end), ``retry`` ops of the same shape (the scenario's
recovery watch), and the workload's operations through the client endpoints (``via`` =
``endpoint``). A **key** is (protocol, via, user).

- **during**: attempts that overlapped the outage (began before it ended, ended after it
  began). Each is *served without it*, *held until it returned* (ok, ended after the heal),
  *refused* or *given up by the client* (a timeout). ``permanent`` refusals (a 5xx, an
  authentication failure: a client gives up for good) fail the check.
- **failed keys**: the keys with a failed attempt during the outage. Every one must be tried
  again after the dependency answered (a probe or a retry of that key starting after ``end``);
  a key never tried again makes the result ``unknown``: its recovery was not observed.
- **recovered at**, per key with a failure during or after the outage: the end of its first
  successful attempt after its last failed one (probes and retries started after ``end``; a
  workload operation after the heal is not evidence either way). A key whose last attempt
  failed is **not recovered**: the check fails.
- **recovery** = the latest *recovered at* − ``end`` (0 when no attempt failed): the time
  until the last user who had failed was served again, an upper bound by at most the
  **resolution** (the longest wait between a key's last failure and its first success after
  it). It fails above ``bound_s``. Per protocol too.
- **watched**: from ``end`` to the start of the last probe or retry. Less than ``bound_s``
  makes the result ``unknown``: a failure after the watch would not have been seen.
- ``restarted``: nodes restarted while the dependency was away (a ``restart`` op ended before
  its heal began) that must come back by themselves: each needs a fault on it healed ``ok``
  (its heal confirms it ready). Not healed fails; no restart during the outage is ``unknown``
  (the composition did not happen). ``ready_after_dependency_s``: its heal's end − ``end``.
  With ``owners`` ({user: node or [nodes]}), the keys of users held by a restarted node are
  that node's users: their service comes back with a node that had to recover by itself (start
  without its user list, provision when the dependency answers), so their recovery is judged
  apart, against ``restarted_bound_s`` (default: the ``recovery_s`` threshold, "service
  recovery after an outage of a dependency"), and reported per node (``users_recovery_s``);
  **recovery** and ``bound_s`` then cover everybody else.
- Sessions open through the outage and broken during it are counted (not judged).

``unknown`` also when the outage fault is missing, was not applied or not healed, or when no
attempt overlapped it.
"""
from __future__ import annotations

from collections import defaultdict

from .attempts import WORKLOAD_OPS, fault_window, grouped, kind, proto_of, user_of, via_of
from .common import CAP, measure, ops_of, rnd, threshold, within

PROTOS = ("imap", "pop3", "smtp", "http")


def check(events, *, dependency=None, fault_id=None, bound_s=None, restarted=None, min_ok=None,
          owners=None, restarted_bound_s=None) -> dict:
    bound = float(bound_s) if bound_s is not None else threshold("recovery_s")
    rbound = float(restarted_bound_s) if restarted_bound_s is not None else threshold("recovery_s")
    w = fault_window(events, fault_id=fault_id, target=dependency)
    if w is None or not w["applied"] or not w["healed"] or w["end"] is None:
        why = "no outage of it in the history" if w is None else \
            "the outage was not applied" if not w["applied"] else "the dependency's return was not confirmed"
        return {"valid": "unknown", "reasons": [f"{dependency or fault_id}: {why}"], "bound_s": rnd(bound)}
    start, end = w["start"], w["end"]
    att = attempts(events)
    during = [o for o in att if o.start <= end and (o.end is None or o.end >= start)]
    failures, missing = [], []

    # -- while it was away --------------------------------------------------------------------
    permanent = [o for o in during if o.type != "ok" and kind(o.error, proto_of(o)) == "permanent"]
    if permanent:
        failures.append(f"{len(permanent)} refusals during the outage were permanent (a client gives up): "
                        f"{permanent[0].error}")
    per_proto: dict[str, dict] = {}
    for proto in PROTOS:
        d = [o for o in during if proto_of(o) == proto]
        if not d and proto == "http":
            continue
        waits = [o.end - o.start for o in d if o.end is not None]
        per_proto[proto] = {
            "attempts_during": len(d),
            "refused_during": sum(1 for o in d if o.type != "ok" and kind(o.error, proto_of(o)) != "hang"),
            "client_gave_up_during": sum(1 for o in d if o.type != "ok" and kind(o.error, proto_of(o)) == "hang"),
            "held_until_returned": sum(1 for o in d if o.type == "ok" and o.end is not None and o.end > end),
            "served_without_it": sum(1 for o in d if o.type == "ok" and o.end is not None and o.end <= end),
            "wait_s_max_during": rnd(max(waits)) if waits else None,
        }

    # -- after it came back -------------------------------------------------------------------
    restarted_nodes = sorted({restarted} if isinstance(restarted, str) else set(restarted or []))
    theirs = _users_of(owners, restarted_nodes)  # {user: restarted node holding it}
    rec = recovery(events, start, end, exclude=set(theirs))
    all_failed = recovery(events, start, end)["failed_keys"] if theirs else rec["failed_keys"]
    never_retried = sorted(rec["never_retried"])
    not_recovered = sorted(rec["not_recovered"])
    if not_recovered:
        failures.append(f"{len(not_recovered)} users who failed were still failing when the watch ended "
                        f"({_show(not_recovered[0])}, last attempt at +{rec['last_failure'][not_recovered[0]]:.1f} s)")
    if never_retried:
        missing.append(f"{len(never_retried)} users who failed during the outage were never tried again "
                       f"(e.g. {_show(never_retried[0])})")
    overall = rec["recovery_s"]
    if overall is not None and not within(overall, bound, "<="):
        worst = rec["worst"]
        failures.append(f"not everybody served again within {rnd(bound)} s after {w['target']} returned: "
                        f"{_show(worst)} only after {overall:.1f} s")
    for proto, r in per_proto.items():
        r["failed_keys"] = sum(1 for k in all_failed if k[0] == proto)
        r["recovery_s"] = measure(rec["per_proto"].get(proto, 0.0 if not rec["unresolved"].get(proto) else None),
                                  bound, "s", "<=")
    watched = rec["watched_s"]
    if watched is None or watched < bound:
        missing.append(f"watched only {watched if watched is not None else 0} s after {w['target']} returned, "
                       f"less than the bound ({rnd(bound)} s)")

    # -- nodes restarted while it was away ------------------------------------------------------
    nodes = {}
    for node in restarted_nodes:
        r = _restarted(events, node, w)
        nodes[node] = r
        if r["status"] == "not healed":
            failures.append(f"{node}, restarted while {w['target']} was away, did not come back by itself "
                            f"({r['error']})")
        elif r["status"] != "recovered":
            missing.append(f"{node}: {r['status']}")
        if owners is None:
            continue
        mine = {u for u, n in theirs.items() if n == node}
        rr = recovery(events, start, end, only=mine)
        for k in sorted(rr["not_recovered"]):
            if k not in not_recovered:
                not_recovered.append(k)
        for k in sorted(rr["never_retried"]):
            if k not in never_retried:
                never_retried.append(k)
        if rr["not_recovered"]:
            k = min(rr["not_recovered"])
            failures.append(f"{len(rr['not_recovered'])} users of {node} who failed were still failing when the "
                            f"watch ended ({_show(k)}, last attempt at +{rr['last_failure'][k]:.1f} s)")
        if rr["never_retried"]:
            missing.append(f"{len(rr['never_retried'])} users of {node} who failed during the outage were never "
                           f"tried again (e.g. {_show(min(rr['never_retried']))})")
        ur = rr["recovery_s"]
        if ur is not None and not within(ur, rbound, "<="):
            failures.append(f"not every user of {node} (restarted while {w['target']} was away) served again "
                            f"within {rnd(rbound)} s after {w['target']} returned: {_show(rr['worst'])} only "
                            f"after {ur:.1f} s")
        r["users"] = len(mine)
        r["users_failed"] = len(rr["failed_keys"])
        r["users_recovery_s"] = measure(ur, rbound, "s", "<=")
        r["users_resolution_s"] = rnd(rr["resolution_s"])

    if not during:
        missing.append("no attempt overlapped the outage")
    ok_after = sum(1 for o in att if o.start >= end and o.type == "ok")
    min_ok = 1 if min_ok is None else int(min_ok)
    if failures:
        out = {"valid": "fail", "reasons": failures}
    elif missing:
        out = {"valid": "unknown", "reasons": missing}
    elif ok_after < min_ok:
        out = {"valid": "unknown", "reasons": [f"only {ok_after} successful attempts after the outage (min_ok {min_ok})"]}
    else:
        out = {"valid": "pass", "reasons": []}

    sessions = ops_of(events, "session")
    out.update({
        "dependency": w["target"], "fault_id": w["id"], "fault": w["fault"],
        "outage": {"start": rnd(start), "end": rnd(end), "seconds": rnd(end - start)},
        "bound_s": rnd(bound),
        "recovery_s": measure(overall, bound, "s", "<="),
        "resolution_s": rnd(rec["resolution_s"]),
        "watched_s": measure(watched, bound, "s", ">="),
        "failed_keys": len(all_failed),
        "not_recovered": len(not_recovered),
        "never_retried": len(never_retried),
        "permanent_refusals": len(permanent),
        "protos": per_proto,
        "sessions": {p: {
            "open_through": sum(1 for o in sessions if _sproto(o) == p and o.start < start and o.type == "ok"
                                and o.end is not None and o.end > end),
            "broken_during": sum(1 for o in sessions if _sproto(o) == p and o.type == "fail" and o.end is not None
                                 and start <= o.end <= end + 1)} for p in ("imap", "http")},
        "examples": {"not_recovered": [_show(k) for k in not_recovered[:CAP]],
                     "never_retried": [_show(k) for k in never_retried[:CAP]],
                     "permanent": sorted({str(o.error) for o in permanent})[:CAP]},
        "restarted": nodes,
    })
    return out


def attempts(events) -> list:
    """Grouped probes, retries and the workload's operations, in invocation order."""
    out = []
    for op in ops_of(events, ("probe", "retry") + WORKLOAD_OPS):
        if op.f in ("probe", "retry") and not grouped(op):
            continue  # endpoint probes of the probe user say nothing about one user's login
        if user_of(op) is None:
            continue
        out.append(op)
    return out


def key(op) -> tuple[str, str, str]:
    return (proto_of(op), via_of(op), user_of(op) or "")


def recovery(events, start: float, end: float, *, exclude: set | None = None, only: set | None = None) -> dict:
    """The recovery of every key, from the attempts in ``events`` (used by the check and by a
    scenario's watch, so both agree on who still waits): see the module's docstring. ``exclude``
    / ``only``: users whose keys are left out / the only ones counted."""
    att = [o for o in attempts(events)
           if (exclude is None or user_of(o) not in exclude) and (only is None or user_of(o) in only)]
    failed_keys = {key(o) for o in att if o.type != "ok" and o.start <= end and (o.end is None or o.end >= start)}
    after: dict[tuple, list] = defaultdict(list)
    for o in att:
        if o.f in ("probe", "retry") and o.start >= end:
            after[key(o)].append(o)
    keys = set(failed_keys) | {k for k, os in after.items() if any(o.type != "ok" for o in os)}
    recovered_at, last_failure, not_recovered, never_retried, unresolved = {}, {}, set(), set(), defaultdict(int)
    resolution = 0.0
    open_attempt = any(o.done is None for os in after.values() for o in os)
    for k in keys:
        os = sorted(after.get(k, []), key=lambda o: (o.start, o.invoke.i))
        done = [o for o in os if o.done is not None]
        if not done:
            never_retried.add(k)
            unresolved[k[0]] += 1
            continue
        fails = [o for o in done if o.type != "ok"]
        last_fail_end = max((o.end for o in fails), default=None)
        okays = [o for o in done if o.type == "ok" and (last_fail_end is None or o.start >= last_fail_end)]
        if last_fail_end is not None:
            last_failure[k] = last_fail_end - end
        if not okays:
            not_recovered.add(k)
            unresolved[k[0]] += 1
            continue
        first = min(okays, key=lambda o: o.end)
        recovered_at[k] = first.end
        if last_fail_end is not None:
            resolution = max(resolution, first.end - last_fail_end)
    per_proto: dict[str, float] = {}
    for k, t in recovered_at.items():
        per_proto[k[0]] = max(per_proto.get(k[0], 0.0), max(t - end, 0.0))
    worst = max(recovered_at, key=lambda k: (recovered_at[k], k)) if recovered_at else None
    if not_recovered or never_retried:
        overall = None
    else:
        overall = max(recovered_at[worst] - end, 0.0) if worst else 0.0
    last_start = max((o.start for os in after.values() for o in os), default=None)
    return {"failed_keys": failed_keys, "recovered_at": recovered_at, "not_recovered": not_recovered,
            "never_retried": never_retried, "last_failure": last_failure,
            "per_proto": {p: rnd(v) for p, v in per_proto.items()}, "unresolved": dict(unresolved),
            "recovery_s": rnd(overall), "worst": worst, "resolution_s": resolution,
            "watched_s": rnd(last_start - end) if last_start is not None else None, "open_attempt": open_attempt}


def _users_of(owners, nodes: list[str]) -> dict[str, str]:
    """{user: the restarted node holding it} from ``owners`` ({user: node or [nodes]})."""
    out = {}
    for user, held in (owners or {}).items():
        for n in ([held] if isinstance(held, str) else list(held or [])):
            if n in nodes:
                out.setdefault(user, n)
    return out


def pending(events, start: float, end: float) -> set[tuple[str, str, str]]:
    """Keys a recovery watch must still try: failed and not yet served again after ``end``."""
    r = recovery(events, start, end)
    return set(r["not_recovered"]) | set(r["never_retried"])


def _restarted(events, node: str, outage: dict) -> dict:
    restarts = [o for o in ops_of(events, "restart") if (o.invoke.value or {}).get("node") == node and o.type == "ok"]
    during = [o for o in restarts if outage["start"] <= o.end <= (outage["heal_invoked"] or outage["end"])]
    if not during:
        return {"status": "not restarted while the dependency was away", "ready_after_dependency_s": None}
    w = fault_window(events, target=node)
    if w is None or not w["applied"]:
        return {"status": "no fault on it in the history", "ready_after_dependency_s": None}
    if not w["healed"] or w["end"] is None:
        return {"status": "not healed", "error": w.get("error") or "never healed", "ready_after_dependency_s": None}
    return {"status": "recovered", "restarted_at": rnd(during[0].end),
            "ready_after_dependency_s": measure(w["end"] - outage["end"], None, "s", "<=")}


def _sproto(op) -> str:
    return str((op.invoke.value or {}).get("proto") or "imap").split("@")[0]


def _show(k: tuple) -> str:
    proto, via, user = k
    return f"{proto.upper()} for {user} via {via}"
