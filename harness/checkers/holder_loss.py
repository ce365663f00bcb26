"""``holder_loss``: the only holder of some users' mail loses its disk (a ``wipe`` fault on
``holder``) and is rebuilt empty. Whose acknowledged mail went with it?

The ``messages`` checker (``require="any"``: a message is lost when no node holds it) is run
twice on the same history: once with only the sends to ``users`` (the holder's users), once
with only the sends to everybody else, so both counts are complete (not examples).

- **lost with holder**: acknowledged messages of the holder's users held nowhere — the
  measured cost of having no second copy (not a failure of this check).
- **lost for others**: acknowledged messages of other users held nowhere: fails (a lost
  disk must cost only its own users' mail).
- ``acked_before_loss``: messages for the holder's users acknowledged before the wipe was
  ordered (what it held and could lose).
- ``data_redundancy``: ``Yes`` when no acknowledged message of anybody was lost, else ``No``;
  ``unknown`` with the messages check.

``unknown`` when there is no wipe of ``holder`` in the history, or when the ``messages``
check over everybody is ``unknown`` (e.g. a final read missing).
"""
from __future__ import annotations

from .attempts import fault_window, user_of
from .common import addr, measure, ops_of, recipients, rnd
from .messages import check as messages


def check(events, *, holder=None, users=(), nodes=None, prefix=None, min_ok=None) -> dict:
    w = fault_window(events, target=holder, fault="wipe")
    if w is None:
        return {"valid": "unknown", "reasons": [f"no wipe of {holder} in the history"]}
    mine = {addr(u) for u in users}
    loss_at = w["invoked"]
    everybody = messages(events, nodes=nodes, require="any", prefix=prefix, min_ok=min_ok)
    theirs = messages(_only_sends(events, lambda to: bool(to) and set(to) <= mine), nodes=nodes, require="any",
                      prefix=prefix, min_ok=0)
    others = messages(_only_sends(events, lambda to: not (bool(to) and set(to) <= mine)), nodes=nodes,
                      require="any", prefix=prefix, min_ok=0)
    lost_mine = (theirs.get("totals") or {}).get("lost_everywhere") or 0
    lost_others = (others.get("totals") or {}).get("lost_everywhere") or 0
    acked_before = sum(1 for o in ops_of(events, "send") if o.type == "ok" and o.end is not None and o.end < loss_at
                       and (not prefix or str((o.invoke.value or {}).get("token", "")).startswith(prefix))
                       and user_of(o) in mine)
    if everybody["valid"] == "unknown":
        out = {"valid": "unknown", "reasons": everybody["reasons"]}
    elif lost_others:
        out = {"valid": "fail", "reasons": [f"{lost_others} messages of users on other back ends lost with {w['target']}"]}
    else:
        out = {"valid": "pass", "reasons": []}
    out.update({
        "holder": w["target"], "fault_id": w["id"], "loss_at": rnd(loss_at),
        "data_redundancy": "unknown" if everybody["valid"] == "unknown" else
        ("Yes" if lost_mine + lost_others == 0 else "No"),
        "numbers": {"acked_before_loss": measure(acked_before, None, "", ">="),
                    "lost_with_holder": measure(lost_mine, None, "", "<="),
                    "lost_for_other_users": measure(lost_others, 0, "", "<=")},
        "messages_valid": everybody["valid"],
    })
    return out


def _only_sends(events, keep) -> list:
    """``events`` without the send operations whose recipients ``keep`` rejects."""
    drop = set()
    for op in ops_of(events, "send"):
        if not keep(recipients(op.invoke.value)):
            drop.add(op.invoke.i)
            if op.done is not None:
                drop.add(op.done.i)
    return [e for e in events if e.i not in drop]
