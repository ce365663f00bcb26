"""Client attempts as the tiered designs' checkers read them: whose attempt it was, which
protocol, through which front end, and what kind of failure it met. Not a checker itself.

- **user**: the ``user`` (or, for a send, ``to``) of the invocation, lower case.
- **protocol**: the ``proto`` of a probe (``imap``, or ``imap@be1`` for a probe of one group:
  the part before ``@``); for workload operations the protocol their ``f`` speaks.
- **via**: for a grouped probe or a retry, the group after ``@`` (a proxy, a back end);
  ``endpoint`` for everything else (through the design's client endpoints).
- **failure kinds** (from the error text): ``permanent`` (a client gives up: 5xx, wrong
  password, unknown user), ``hang`` (the client stopped waiting), ``temporary`` (4xx,
  [UNAVAILABLE], [SYS/TEMP]); webmail errors are never permanent (an HTTP 503 or 401 is the
  page's answer for whatever failed behind it).
"""
from __future__ import annotations

import re

from ..history import iter_fault_windows
from .common import addr, ops_of, rnd

# a clean temporary refusal: Dovecot's [UNAVAILABLE] / [SYS/TEMP], an SMTP 4xx
TEMPORARY = re.compile(r"UNAVAILABLE|SYS/TEMP|[Tt]emporar|(^|\D)4\d\d(\D|$)")
# a refusal that makes a client give up: wrong password, unknown user, a 5xx
PERMANENT = re.compile(r"(^|\D)5\d\d(\D|$)|AUTHENTICATIONFAILED|\[AUTH\]|[Aa]uthentication failed|[Uu]ser unknown")
# the client gave up waiting: a hang, whatever the bound
HANG = re.compile(r"[Tt]imed? ?out")

#: operations a user (or a prober acting as one) makes
USER_OPS = ("send", "read", "flag", "expunge", "move", "pop-read", "pop-delete", "webmail-list", "session", "probe")
#: workload operations that stand for a login (or a recipient) of their user
WORKLOAD_OPS = ("send", "read", "flag", "expunge", "move", "pop-read", "pop-delete", "webmail-list")
_F_PROTO = {"send": "smtp", "pop-read": "pop3", "pop-delete": "pop3", "webmail-list": "http"}


def user_of(op) -> str | None:
    v = op.invoke.value or {}
    u = v.get("user") or v.get("to")
    return addr(u) if isinstance(u, str) else None


def proto_of(op) -> str:
    v = op.invoke.value or {}
    if v.get("proto"):
        return str(v["proto"]).split("@")[0]
    return _F_PROTO.get(op.f, "imap")


def via_of(op) -> str:
    p = str((op.invoke.value or {}).get("proto") or "")
    return p.split("@", 1)[1] if "@" in p else "endpoint"


def grouped(op) -> bool:
    """A probe or retry of one group (``proto`` = ``imap@be1``)."""
    return "@" in str((op.invoke.value or {}).get("proto") or "")


def kind(error: str | None, proto: str | None = None) -> str:
    """``permanent`` / ``hang`` / ``temporary`` / ``other`` for an error text. A webmail (``http``)
    error is never permanent: its status codes (401, 503) answer for whatever failed behind it."""
    e = error or ""
    if proto == "http":
        return "hang" if HANG.search(e) else "temporary"
    if PERMANENT.search(e):
        return "permanent"
    if HANG.search(e):
        return "hang"
    if TEMPORARY.search(e):
        return "temporary"
    return "other"


def user_ops(events, f=USER_OPS) -> list:
    """Paired operations of users (and probers) in invocation order."""
    return ops_of(events, f)


def fault_window(events, *, fault_id: str | None = None, target: str | None = None,
                 fault: str | None = None) -> dict | None:
    """The nemesis fault named by id (or the last one on ``target``, of kind ``fault`` if given):
    ``{id, fault, target, invoked, start, end, applied, healed, heal_invoked}`` with ``start`` the
    moment it was confirmed applied and ``end`` the moment its heal was confirmed (None: never)."""
    found = None
    for w in iter_fault_windows(events):
        if fault_id is not None and w["id"] != fault_id:
            continue
        if target is not None and w["target"] != target:
            continue
        if fault is not None and w["fault"] != fault:
            continue
        found = w
    if found is None:
        return None
    heal_invoked = None
    for op in ops_of(events, "heal", proc_prefix="nemesis"):
        if (op.invoke.value or {}).get("id") == found["id"]:
            heal_invoked = op.start
    return {**found, "heal_invoked": heal_invoked}


def applied_fault(events, *, fault_id: str | None, target: str | None, bound: float) -> tuple[dict | None, dict | None]:
    """``(window, None)`` for the applied fault (``fault_window``) with ``until``: the moment its
    heal was invoked (else confirmed; None: never healed) — the stretch a check of the fault's
    effect looks at; ``(None, result)`` with the ``unknown`` result a checker returns when no such
    fault was applied."""
    w = fault_window(events, fault_id=fault_id, target=target)
    if w is None or not w["applied"]:
        return None, {"valid": "unknown", "reasons": [f"{target or fault_id}: no applied fault in the history"],
                      "bound_s": rnd(bound)}
    return {**w, "until": w["heal_invoked"] if w["heal_invoked"] is not None else w["end"]}, None
