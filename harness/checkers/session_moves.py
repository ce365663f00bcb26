"""``session_moves``: a front-end server dies (the nemesis fault on ``target``); do the clients
whose sessions it broke come back through another one, and soon?

Sessions are ``session`` ops (one process per client, a new session after each one ends).

- **broken**: sessions that failed at or after the fault was *ordered* (a kill breaks them
  before it is confirmed).
- **moved**: a broken session's client opened a session that held (``ok``) after the break;
  the first such session, its delay and who served it. A broken session with no later
  session that held fails the check (the client did not come back); one that came back to
  ``target`` itself fails; the slowest move above ``bound_s`` fails.
- **still served**: an operation served (``ok``, ``node`` = ``target``) that began ``bound_s``
  or more after the fault and before its heal: fails (the load balancers kept sending
  clients to the dead server).

``unknown`` when the fault is missing or was not applied, or when no session broke (the
target held no open session: moves were not shown).
"""
from __future__ import annotations

from .attempts import USER_OPS, applied_fault
from .common import CAP, measure, ops_of, rnd, threshold


def check(events, *, target=None, fault_id=None, bound_s=None) -> dict:
    bound = float(bound_s) if bound_s is not None else threshold("stops_responding_s")
    w, unknown = applied_fault(events, fault_id=fault_id, target=target, bound=bound)
    if w is None:
        return unknown
    tgt, end = w["target"], w["until"]
    sessions = sorted(ops_of(events, "session"), key=lambda o: (o.start, o.invoke.i))
    broken = [o for o in sessions if o.type == "fail" and o.end is not None and o.end >= w["invoked"]]
    moves = []
    for o in broken:
        nxt = next((s for s in sessions if s.proc == o.proc and s.start >= o.end and s.type == "ok"), None)
        if nxt is not None:
            moves.append({"proc": o.proc, "broken_at": rnd(o.end), "delay_s": rnd(nxt.start - o.end), "to": nxt.node})
    slowest = max((m["delay_s"] for m in moves), default=None)
    failures = []
    back = [m for m in moves if m["to"] == tgt]
    if back:
        failures.append(f"a session broken by the {w['fault']} reconnected to {tgt} itself")
    if len(moves) < len(broken):
        failures.append(f"{len(broken) - len(moves)} of {len(broken)} broken sessions did not come back")
    if slowest is not None and slowest > bound:
        failures.append(f"a broken session came back only after {slowest:.1f} s")
    still = [o for o in ops_of(events, USER_OPS) if o.type == "ok" and o.node == tgt and end is not None
             and w["start"] + bound <= o.start <= end]
    if still:
        failures.append(f"{tgt} still served sessions {rnd(bound)} s after it was {w['fault']}ed")
    if failures:
        out = {"valid": "fail", "reasons": failures}
    elif not broken:
        out = {"valid": "unknown", "reasons": [f"no open session broke when {tgt} went down: moves were not shown"]}
    else:
        out = {"valid": "pass", "reasons": []}
    out.update({
        "target": tgt, "fault": w["fault"], "fault_id": w["id"], "bound_s": rnd(bound),
        "numbers": {"sessions_broken": measure(len(broken), None, "", ">="),
                    "sessions_moved": measure(len(moves), len(broken), "", ">="),
                    "session_move_s_max": measure(slowest, bound, "s", "<=")},
        "served_after_bound": len(still),
        "moves": sorted(moves, key=lambda m: (m["broken_at"], m["proc"]))[:CAP],
    })
    return out
