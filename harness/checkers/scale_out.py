"""``scale_out``: servers are added while the cluster serves its users — new users in the
directory, a back end for them, a front end taken into the load balancers. The new users must
work, the new front end must take its share, nobody else may notice, nothing may restart.

Options: ``new_users`` (their addresses), ``new_backend``, ``new_proxy``, ``proxies`` (the
front ends before the growth), ``band`` (load_share_band), ``new_prefix`` (the new users'
message tokens).

Reads, all recorded by the scenario:
- ``scale-step`` ops (``{step}``): each growth step, its duration is the figure
  (``<step>_s``); a failed step fails. The first step's start is when growth began; the end
  of the last step is when the new front end was in service.
- ``started`` ops (``{label: before|after}`` -> ``{services: {service: start time}}``): a
  service whose start time changed between them was restarted (fails); a service not
  inspected in either leaves it ``unknown``.
- the users' operations: an existing user's failed operation after growth began fails,
  except probes that timed out (stalls: judged by the ``availability`` check against "no
  interruption"); a new user's operation begun after the front end was in service that failed
  fails; no such operation is ``unknown``.
- the new user's round trip: a ``send`` of ``scale-smtp`` and ``read`` ops of ``scale-imap``;
  it fails unless a read after the send shows its token.
- ``held-users`` ops: every new user must be known to ``new_backend`` only; a ``read`` of
  ``scale-direct-<new_backend>`` per new user (``{tokens}``): every accepted message for a new
  user must be there (``missing``).
- share: of the operations served (``ok`` with ``node``) by front ends after the new one was in
  service, the new one's share must lie within fair × (1 ± band).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from .attempts import USER_OPS, kind, proto_of, user_of
from .common import addr, decided, measure, ops_of, rnd, threshold


def check(events, *, new_users=(), new_backend=None, new_proxy=None, proxies=(), band=None, new_prefix="") -> dict:
    band = float(band) if band is not None else threshold("load_share_band")
    new = {addr(u) for u in new_users}
    failures, unknown = [], []

    steps = sorted(ops_of(events, "scale-step"), key=lambda o: (o.start, o.invoke.i))
    step_s = {}
    for o in steps:
        name = str((o.invoke.value or {}).get("step"))
        if o.type != "ok":
            failures.append(f"step {name} failed: {o.error}")
        elif o.end is not None:
            step_s[f"{name}_s"] = measure(o.end - o.start, None, "s", "<=")
    if not steps:
        return {"valid": "unknown", "reasons": ["no growth steps in the history"]}
    t_begin = steps[0].start
    t_serving = steps[-1].end if steps[-1].end is not None else steps[-1].start

    started = {}
    for o in ops_of(events, "started"):
        if o.type == "ok":
            started[str((o.invoke.value or {}).get("label"))] = (o.value or {}).get("services") or {}
    before, after = started.get("before"), started.get("after")
    restarted = []
    if before is None or after is None:
        unknown.append("start times of the services not read " + ("before" if before is None else "after"))
    else:
        blind = sorted(s for s in before if not before.get(s) or not after.get(s))
        if blind:
            unknown.append(f"start time of {', '.join(blind)} unknown")
        restarted = sorted(s for s in before if before.get(s) and after.get(s) and before[s] != after[s])
        if restarted:
            failures.append(f"restarted while scaling out: {', '.join(restarted)}")

    # the scenario's own direct reads on the new back end are placement evidence, not users' operations
    ops = [o for o in ops_of(events, USER_OPS) if not o.proc.startswith("scale-direct-")]
    old_failed = [o for o in ops if o.type != "ok" and user_of(o) not in new and o.start >= t_begin]
    old_stalls = [o for o in old_failed if o.f == "probe" and o.type == "fail" and kind(o.error, proto_of(o)) == "hang"]
    old_errors = [o for o in old_failed if o not in old_stalls]
    if old_errors:
        c = Counter(f"{o.f}: {o.error}" for o in old_errors)
        failures.append(f"{len(old_errors)} operations of existing users failed while the cluster grew: "
                        f"{sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:2]}")
    new_ops = [o for o in ops if user_of(o) in new and o.start >= t_serving]
    new_failed = [o for o in new_ops if o.type != "ok"]
    if new_failed:
        failures.append(f"new users: {len(new_failed)} of {len(new_ops)} operations failed "
                        f"({new_failed[0].f}: {new_failed[0].error})")
    elif not new_ops:
        unknown.append("no operation of a new user after the new front end was in service")

    rt = _roundtrip(events)
    if rt["ok"] is False:
        failures.append(f"new user's round trip: {rt['error']}")
    elif rt["ok"] is None:
        unknown.append("no round trip of a new user")

    # placement: known to the new back end only, every accepted message there
    held = {}
    for o in ops_of(events, "held-users"):
        if o.type == "ok":
            held[(o.invoke.value or {}).get("node")] = {addr(x) for x in (o.value or {}).get("held") or []}
    if new_backend not in held:
        unknown.append(f"the users of {new_backend} were not read")
    for u in sorted(new):
        where = sorted(b for b, us in held.items() if u in us)
        if where and where != [new_backend]:
            failures.append(f"new user {u} is known to {', '.join(where)}, not only {new_backend}")
    acked = defaultdict(set)
    for o in ops_of(events, "send"):
        tok = str((o.invoke.value or {}).get("token") or "")
        if o.type == "ok" and user_of(o) in new and tok.startswith(new_prefix or ""):
            acked[user_of(o)].add(tok)
    have: dict[str, set | None] = {}
    for o in ops_of(events, "read"):
        if o.proc == f"scale-direct-{new_backend}":
            u = addr((o.invoke.value or {}).get("user", ""))
            have[u] = set((o.value or {}).get("tokens") or []) if o.type == "ok" else None
    missing = 0
    for u in sorted(new):
        if have.get(u) is None:
            if u in have:
                failures.append(f"new user {u}: direct read on {new_backend} failed")
            else:
                unknown.append(f"new user {u}: not read on {new_backend}")
            continue
        missing += len(acked.get(u, set()) - have[u])
    if missing:
        failures.append(f"{missing} accepted messages for new users are not on {new_backend}")

    # the new front end's share of what the front ends served after it joined
    fronts = list(proxies) + [new_proxy]
    by = Counter(o.node for o in ops if o.type == "ok" and o.start >= t_serving and o.node in fronts)
    total = sum(by.values())
    fair = 1 / len(fronts)
    share = by.get(new_proxy, 0) / total if total else None
    if share is None:
        unknown.append(f"no operation served by the front ends after {new_proxy} joined")
    elif not fair * (1 - band) <= share <= fair * (1 + band):
        failures.append(f"{new_proxy} took {share:.2f} of the sessions (fair {fair:.2f} ± {band:.0%})")

    out = decided(failures, unknown)
    out.update({
        "began": rnd(t_begin), "in_service": rnd(t_serving),
        "numbers": {**step_s,
                    "new_users": measure(len(new), None, "", ">="),
                    "new_user_ops_ok": measure(len(new_ops) - len(new_failed), None, "", ">="),
                    "new_user_ops_failed": measure(len(new_failed), 0, "", "<="),
                    "new_user_messages_missing": measure(missing, 0, "", "<="),
                    "existing_user_ops_failed": measure(len(old_errors), 0, "", "<="),
                    "existing_user_probes_stalled": measure(len(old_stalls), None, "", "<="),
                    f"{new_proxy}_share": measure(share, None, "", ">="),
                    f"{new_proxy}_share_deviation": measure(abs(share - fair) / fair if share is not None else None,
                                                            band, "", "<="),
                    "services_restarted": measure(len(restarted), 0, "", "<=")},
        "roundtrip": rt,
        "restarted": restarted,
    })
    return out


def _roundtrip(events) -> dict:
    sends = [o for o in ops_of(events, "send") if o.proc == "scale-smtp"]
    if not sends:
        return {"ok": None, "error": None, "seconds": None}
    s = sends[-1]
    tok = (s.invoke.value or {}).get("token")
    if s.type != "ok":
        return {"ok": False, "error": "SMTP refused the new user's mail", "seconds": None}
    for o in sorted(ops_of(events, "read"), key=lambda o: (o.start, o.invoke.i)):
        if o.proc == "scale-imap" and o.type == "ok" and o.start >= s.start and \
                any(m.get("token") == tok for m in (o.value or {}).get("messages") or []):
            return {"ok": True, "error": None, "seconds": rnd(o.end - s.start)}
    return {"ok": False, "error": "the new user's mail never showed in IMAP", "seconds": None}
