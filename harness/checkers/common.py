"""Helpers shared by the checkers: verdicts, rounding, percentiles, intervals, mail tokens.

Results must be JSON-serialisable and byte-for-byte reproducible, so everything here
returns sorted lists, rounded floats (6 digits) and plain dicts.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Iterator

from ..history import Event, Op, pair
from ..thresholds import THRESHOLDS

CAP = 20  # longest list of examples in a result
# the error of an operation the harness itself could not finish (a probe or session thread hit an
# exception its client does not expect): recorded as ``fail``, counted like any failure
CRASHED = "crashed"


def threshold(name: str) -> float:
    """A threshold's documented default (the caller passes overrides as options)."""
    return THRESHOLDS[name].default


MIN_OK = int(threshold("min_ok_ops"))


# -- numbers ---------------------------------------------------------------------------
def rnd(x: float | None) -> float | None:
    """Round to 6 digits; None, NaN and infinities become None (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    return round(x, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def nearest_rank(values: Iterable[float], p: float) -> float | None:
    """Percentile by the nearest-rank method: the smallest value with at least p % of the
    values at or below it, i.e. sorted[ceil(p/100 * n) - 1]; p = 0 gives the minimum.
    Always one of the samples (no interpolation). None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    # round first so that 2.2 * 1500 / 100 = 33.00000000000001 does not become rank 34
    rank = math.ceil(round(p * len(xs) / 100, 9))
    return xs[max(rank, 1) - 1]


def quantiles(values: Iterable[float], ps: Iterable[float] = (50, 90, 99)) -> dict:
    """{count, min, p50, p90, p99, max} (rounded); numbers are None without values."""
    xs = sorted(values)
    out: dict[str, Any] = {"count": len(xs), "min": rnd(xs[0]) if xs else None}
    for p in ps:
        out[f"p{p:g}"] = rnd(nearest_rank(xs, p))
    out["max"] = rnd(xs[-1]) if xs else None
    return out


def measure(value: float | None, limit: float | None, unit: str, op: str) -> dict:
    """A headline number next to the bound it is held against (``op`` says how)."""
    return {"value": rnd(value), "threshold": rnd(limit), "unit": unit, "op": op}


def within(value: float | None, limit: float | None, op: str) -> bool:
    """True when the number meets the bound (no bound = met; no number = not met)."""
    if limit is None:
        return True
    if value is None:
        return False
    return value <= limit if op == "<=" else value >= limit


def capped(items: Iterable, n: int = CAP) -> list:
    """The first ``n`` of the sorted items (JSON-friendly)."""
    return sorted(items, key=_sort_key)[:n]


def users(items: Iterable) -> list[str]:
    """A complete, sorted list of user names (no cap: judgements count users from it)."""
    return sorted({addr(u) for u in items if u})


def tokset(items: Iterable) -> dict:
    """{count, tokens: first CAP sorted} for a collection of tokens."""
    items = list(items)
    return {"count": len(items), "tokens": capped(items)}


def _sort_key(x: Any):
    return (str(type(x).__name__), repr(x)) if not isinstance(x, (str, int, float)) else ("", x)


def counter(items: Iterable[str | None]) -> dict:
    """Occurrences per value, keys sorted (e.g. error texts)."""
    c: dict[str, int] = {}
    for x in items:
        k = str(x)
        c[k] = c.get(k, 0) + 1
    return dict(sorted(c.items()))


# -- verdicts --------------------------------------------------------------------------
def verdict(failures: list[str], *, ok: int, min_ok: int | None, missing: str | None = None) -> dict:
    """Evidence of a violation fails; otherwise too little evidence is ``unknown``, never pass."""
    min_ok = MIN_OK if min_ok is None else int(min_ok)
    if failures:
        return {"valid": "fail", "reasons": failures}
    if missing:
        return {"valid": "unknown", "reasons": [missing]}
    if ok < min_ok:
        return {"valid": "unknown", "reasons": [f"only {ok} successful operations (min_ok {min_ok})"]}
    return {"valid": "pass", "reasons": []}


def decided(failures: list[str], unknown: list[str]) -> dict:
    """A verdict from reasons already weighed: a violation fails, else anything undecided is
    ``unknown`` (reasons capped at CAP), else pass."""
    if failures:
        return {"valid": "fail", "reasons": failures[:CAP]}
    if unknown:
        return {"valid": "unknown", "reasons": unknown[:CAP]}
    return {"valid": "pass", "reasons": []}


def names(x) -> list[str] | None:
    """An option naming nodes or protocols: a name or a list of them -> sorted list (None stays None)."""
    if x is None:
        return None
    return sorted({x} if isinstance(x, str) else set(x))


# -- operations ------------------------------------------------------------------------
def ops_of(events: Iterable[Event], f: str | Iterable[str], proc_prefix: str | None = None) -> list[Op]:
    """Paired operations of the given f, in invocation order.

    Only events of that f are paired, so a malformed operation of another kind does not
    stop a checker."""
    fs = {f} if isinstance(f, str) else set(f)
    evs = [e for e in events if e.f in fs and (proc_prefix is None or e.proc.startswith(proc_prefix))]
    return pair(evs)


def value(op: Op) -> dict:
    """The invocation's value overlaid with the completion's (either may lack fields)."""
    iv = op.invoke.value if isinstance(op.invoke.value, dict) else {}
    dv = op.done.value if op.done is not None and isinstance(op.done.value, dict) else {}
    return {**iv, **dv}


def window_events(events: Iterable[Event], window: tuple[float, float]) -> list[Event]:
    """The operations *invoked* within [start, end], each with its completion even if that
    came later; completions of operations invoked before the window are dropped (they would
    otherwise be completions without an invoke)."""
    lo, hi = window
    out: list[Event] = []
    open_procs: set[str] = set()
    for e in events:
        if e.type == "invoke":
            open_procs.discard(e.proc)
            if lo <= e.t <= hi:
                out.append(e)
                open_procs.add(e.proc)
        elif e.proc in open_procs:
            out.append(e)
            open_procs.discard(e.proc)
    return out


# -- intervals -------------------------------------------------------------------------
def touches(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if the closed intervals share at least one point."""
    return a[0] <= b[1] and b[0] <= a[1]


# -- mail ------------------------------------------------------------------------------
def addr(a: Any) -> str:
    """Normalised mail address / user name: no angle brackets, lower case."""
    return str(a).strip().strip("<>").strip().lower()


def recipients(value: dict | None) -> list[str]:
    """The ``to`` of a send as a sorted list of normalised addresses ([] if unknown)."""
    to = (value or {}).get("to")
    if to is None:
        return []
    if isinstance(to, str):
        to = [x for x in to.split(",") if x.strip()]
    return sorted({addr(x) for x in to})


def final_reads(events: Iterable[Event]) -> tuple[dict[str, dict], list[dict]]:
    """The last successful final read of each node -> ({node: {user: {mailbox: box}}}, failed).

    ``box`` is ``{"uidvalidity": v, "messages": [{uid, token, flags}]}``; user names are
    normalised. ``failed`` lists final reads that did not succeed ({node, error})."""
    reads: dict[str, dict] = {}
    failed: list[dict] = []
    for op in ops_of(events, "final-read"):
        v = op.value or {}
        node = v.get("node") or op.node or (op.invoke.value or {}).get("node") or op.proc.removeprefix("final-")
        if op.type != "ok":
            failed.append({"node": node, "error": op.error})
            continue
        reads[node] = {addr(u): {mbkey(mb): _box(b) for mb, b in (boxes or {}).items()}
                       for u, boxes in (v.get("mailboxes") or {}).items()}
    done = set(reads)
    return dict(sorted(reads.items())), sorted((f for f in failed if f["node"] not in done), key=lambda f: str(f["node"]))


def has_prefix(message: dict, prefix: str) -> bool:
    return str(message.get("token") or "").startswith(prefix)


def keep_prefix(reads: dict[str, dict], prefix: str) -> int:
    """Keep only the messages whose token starts with ``prefix`` in ``final_reads`` results
    (in place: they are copies); returns how many were dropped."""
    dropped = 0
    for users in reads.values():
        for boxes in users.values():
            for box in boxes.values():
                keep = [m for m in box["messages"] if has_prefix(m, prefix)]
                dropped += len(box["messages"]) - len(keep)
                box["messages"] = keep
    return dropped


def _box(b: Any) -> dict:
    if isinstance(b, list):  # tolerate a bare message list
        return {"uidvalidity": None, "messages": b}
    return {"uidvalidity": (b or {}).get("uidvalidity"), "messages": list((b or {}).get("messages") or [])}


def iter_messages(mailboxes: dict) -> Iterator[tuple[str, str, Any, Any, list]]:
    """(user, mailbox, uid, token, flags) for every message of one node's read."""
    for user in sorted(mailboxes):
        for mb in sorted(mailboxes[user]):
            for m in mailboxes[user][mb]["messages"]:
                yield user, mb, m.get("uid"), m.get("token"), list(m.get("flags") or [])


def is_inbox(mailbox: str | None) -> bool:
    return str(mailbox or "").upper() == "INBOX"


def mbkey(mailbox: str | None) -> str:
    """Mailbox name as a key: INBOX is case-insensitive in IMAP, other names are not."""
    return "INBOX" if is_inbox(mailbox) else str(mailbox)
