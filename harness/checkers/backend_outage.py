"""``backend_outage``: one server that alone holds some users' mail dies (``kill``) or hangs
(``pause``). The disclosed disadvantage of a design without a stand-in: exactly its users
lose access, with a clean temporary error within the bound; everybody else sees nothing; mail
for its users is accepted, deferred and delivered once it returns.

The outage is the nemesis fault on ``target`` (or ``fault_id``): from its confirmation
(``start``) to the start of its heal (``end``). ``victims`` are the users whose mail the
target holds; every other user is a bystander. Attempts: the users' operations and probes
(``user`` in their value; grouped probes ``imap@be1`` and workload operations alike).

- **others failed**: any failed operation of a bystander, anywhere in the window: fails.
- **refused**: victims' IMAP / POP3 / webmail attempts that began during the outage and did
  not succeed. None at all (while victims tried) fails: the outage was not seen.
- **hung**: refused attempts that never completed or took longer than ``bound_s``: fails
  (a hang, not an error). **unclean**: IMAP/POP3 refusals that are neither temporary errors
  nor client timeouts: fails. ``error_s_max``: the slowest refusal (IMAP/POP3; webmail apart).
- **mail refused**: sends to victims during the outage that failed: fails (it must queue).
- **deliveries**: ``maillog`` ops (one per front end in ``proxies``): LMTP outcomes their
  Postfix logged during the window. A bounce fails; a front end whose log was not read makes
  the result ``unknown`` (a bounce may have been missed).
- ``processing``: of the victims' IMAP/POP3 logins that began and ended during the outage,
  the share that succeeded: whether any other server took over its users (``Yes`` ≥ 0.99,
  ``Some`` > 0, ``No`` = 0, ``unknown`` without such logins).

``unknown`` also when the fault is missing or was not applied, when no victim tried during the
outage, or when bystanders made fewer than ``min_ok`` successful operations.
"""
from __future__ import annotations

from .attempts import USER_OPS, applied_fault, kind, proto_of, user_of
from .common import CAP, MIN_OK, addr, counter, measure, ops_of, rnd, threshold

ACCESS = ("probe", "read", "pop-read")


def check(events, *, target=None, victims=(), fault_id=None, bound_s=None, proxies=None, min_ok=None) -> dict:
    bound = float(bound_s) if bound_s is not None else threshold("backend_error_s")
    w, unknown = applied_fault(events, fault_id=fault_id, target=target, bound=bound)
    if w is None:
        return unknown
    start, end = w["start"], w["until"]
    if end is None:
        end = max((e.t for e in events), default=start)
    vict = {addr(u) for u in victims if u}
    ops = ops_of(events, USER_OPS)
    others = [o for o in ops if (u := user_of(o)) and u not in vict]
    others_failed = [o for o in others if o.type != "ok"]
    during = [o for o in ops if user_of(o) in vict and start <= o.start <= end]
    access = [o for o in during if proto_of(o) in ("imap", "pop3") and o.f in ACCESS and o.end is not None and o.end <= end]
    refused = [o for o in during if o.type != "ok" and proto_of(o) in ("imap", "pop3", "http")]
    hung = [o for o in refused if o.end is None or o.end - o.start > bound]
    unclean = [o for o in refused if o not in hung and proto_of(o) != "http"
               and kind(o.error, proto_of(o)) not in ("temporary", "hang")]
    slowest = max((o.end - o.start for o in refused if o.end is not None and proto_of(o) != "http"), default=None)
    slowest_web = max((o.end - o.start for o in refused if o.end is not None and proto_of(o) == "http"), default=None)
    sends = [o for o in during if o.f == "send"]
    sends_refused = [o for o in sends if o.type != "ok"]
    served = sum(1 for o in access if o.type == "ok")
    logs = _maillogs(events, proxies)

    failures, missing = [], []
    if others_failed:
        c = counter(f"{o.f} for {user_of(o)}: {o.error}" for o in others_failed)
        top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        failures.append(f"{len(others_failed)} operations of users on other back ends failed: {top}")
    if during and not refused:
        failures.append(f"users of {w['target']} were never refused while it was down: the fault was not seen")
    if hung:
        failures.append(f"{len(hung)} attempts by users of {w['target']} waited longer than {rnd(bound)} s "
                        f"(a hang, not an error)")
    if unclean:
        u0 = unclean[0]
        failures.append(f"{len(unclean)} refusals were not temporary errors: {u0.error} (first: {proto_of(u0)} "
                        f"{u0.f} of {user_of(u0)}, begun {rnd(u0.start - start)} s into the outage, "
                        f"{rnd(end - u0.start)} s before its end)")
    if sends_refused:
        failures.append(f"{len(sends_refused)} messages for users of {w['target']} were refused instead of queued: "
                        f"{sends_refused[0].error}")
    if logs["bounced"]:
        failures.append(f"{logs['bounced']} deliveries bounced instead of waiting: "
                        f"{(logs['bounce_reasons'] or ['?'])[0]}")
    if logs["unread"]:
        missing.append(f"the mail log of {', '.join(logs['unread'])} was not read: a bounce may have been missed")
    if not during:
        missing.append(f"no attempt by users of {w['target']} while it was down")
    ok_others = sum(1 for o in others if o.type == "ok")
    min_ok = MIN_OK if min_ok is None else int(min_ok)
    if not failures and not missing and ok_others < min_ok:
        missing.append(f"only {ok_others} successful operations of other users (min_ok {min_ok})")
    out = {"valid": "fail" if failures else "unknown" if missing else "pass", "reasons": failures or missing}
    ratio = served / len(access) if access else None
    out.update({
        "target": w["target"], "fault": w["fault"], "fault_id": w["id"], "bound_s": rnd(bound),
        "outage": {"start": rnd(start), "end": rnd(end)},
        "numbers": {
            "other_users_failed_ops": measure(len(others_failed), 0, "", "<="),
            "victim_refusals": measure(len(refused), None, "", ">="),
            "victim_imap_pop_error_s_max": measure(slowest, bound, "s", "<="),
            "victim_webmail_error_s_max": measure(slowest_web, bound, "s", "<="),
            "victim_hangs": measure(len(hung), 0, "", "<="),
            "mail_for_victims_accepted": measure(len(sends) - len(sends_refused), None, "", ">="),
            "deliveries_deferred": measure(logs["deferred"] if not logs["unread"] else None, None, "", "<="),
            "deliveries_bounced": measure(logs["bounced"], 0, "", "<="),
        },
        "victim_mail_refused_or_bounced": bool(sends_refused or logs["bounced"]),
        "processing": {
            "value": "unknown" if ratio is None else "Yes" if ratio >= 0.99 else "Some" if ratio > 0 else "No",
            "served": served, "logins": len(access), "served_ratio": measure(ratio, 0.99, "", ">="),
        },
        "deliveries": logs,
        "examples": {"others_failed": sorted({f"{o.f} {user_of(o)}: {o.error}" for o in others_failed})[:CAP],
                     "unclean": sorted({str(o.error) for o in unclean})[:CAP],
                     "unclean_attempts": [f"{proto_of(o)} {o.f} {user_of(o)} at +{rnd(o.start - start)} s: {o.error}"
                                          for o in unclean][:CAP]},
    })
    return out


def _maillogs(events, proxies) -> dict:
    """Sum of the ``maillog`` ops' outcomes; front ends in ``proxies`` without an ok read are unread."""
    out = {"sent": 0, "deferred": 0, "bounced": 0, "bounce_reasons": [], "read": [], "unread": []}
    read = set()
    for op in ops_of(events, "maillog"):
        v = op.value or {}
        node = (op.invoke.value or {}).get("node")
        if op.type != "ok":
            continue
        read.add(node)
        for k in ("sent", "deferred", "bounced"):
            out[k] += int(v.get(k) or 0)
        out["bounce_reasons"] += list(v.get("bounce_reasons") or [])
    want = set(proxies) if proxies is not None else read
    out["read"] = sorted(read)
    out["unread"] = sorted(want - read)
    out["bounce_reasons"] = sorted(out["bounce_reasons"])[:3]
    return out
