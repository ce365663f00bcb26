"""``messages``: Jepsen's set-full for mail — was every acknowledged message kept, once?

Inputs: ``send`` ops, removals (``expunge``, ``pop-delete``; ``move`` keeps the message
with its user), ``final-read`` ops (one per node) and, for latency, earlier ``read`` ops.

Per node, per (recipient, token):
- **lost**: an ``ok`` send absent from all the recipient's mailboxes, unless an ``ok`` or
  ``info`` removal of it excuses the absence;
- **duplicated**: extra copies of a token in one user's mailboxes (at-least-once
  redelivery after a crash), reported apart from losses;
- **unexpected**: a token no send invoked; **misdelivered**: a token in the mailbox of a
  user it was not sent to; **resurrected**: still in the mailbox an ``ok`` removal
  removed it from (a deleted message that came back).

Indeterminate (``info``) sends may or may not arrive (counted, never a violation); a
``fail`` send that arrived anyway is a protocol violation (``failed_but_delivered``).
``require="each"`` (mirrors) needs every required node to hold everything;
``require="any"`` (one store per user, e.g. proxy back ends) fails only on
``lost_everywhere``.
"""
from __future__ import annotations

import bisect
from collections import defaultdict

from .common import (addr, final_reads, is_inbox, iter_messages, keep_prefix, mbkey, names, ops_of, quantiles,
                     recipients, rnd, tokset, value, verdict)

RANK = {"ok": 2, "info": 1, "fail": 0}  # a token sent twice counts by its best outcome


def check(events, *, nodes=None, min_ok=None, allow_duplicates=False, fail_on_failed_but_delivered=True,
          fail_on_resurrected=True, require="each", prefix=None, loss_at=None, rpo_s=None) -> dict:
    """``prefix``: only tokens starting with it count (a test's own mail, when earlier tests left
    theirs in the same mailboxes); the rest of the mailbox is ignored, not 'unexpected'.

    ``loss_at`` + ``rpo_s``: a storage holder was destroyed at ``loss_at``; mail acknowledged
    less than ``rpo_s`` before it may be lost with it (asynchronous replication's recovery point).
    Such losses are reported as ``exposed``; older acknowledged mail that is lost fails the check."""
    if require not in ("each", "any"):
        raise ValueError(f"require must be 'each' or 'any', got {require!r}")
    sends = _sends(events)
    excused, removed_from, touched = _removals(events)
    reads, failed_reads = final_reads(events)
    foreign = 0
    if prefix:
        sends = {t: s for t, s in sends.items() if t.startswith(prefix)}
        foreign = keep_prefix(reads, prefix)
    acked = {t: s for t, s in sends.items() if s["type"] == "ok"}
    required = names(nodes) or sorted(reads)
    counts = {k: sum(1 for s in sends.values() if s["type"] == k) for k in ("ok", "fail", "info")}

    per_node: dict[str, dict] = {}
    present_anywhere: dict[str, set] = defaultdict(set)  # token -> users holding it on some node
    for node in sorted(reads):
        per_node[node] = _node(reads[node], sends, acked, excused, removed_from)
        for (user, token) in per_node[node]["held"]:
            present_anywhere[token].add(user)

    exposed: set[str] = set()
    if loss_at is not None and rpo_s is not None:
        young = {t for t, sd in acked.items() if sd["end"] is not None and sd["end"] >= float(loss_at) - float(rpo_s)}
        for r in per_node.values():
            exposed |= r["lost"] & young
            r["lost"] = r["lost"] - young
    lost_everywhere = sorted(set.intersection(*[per_node[n]["lost"] for n in required if n in per_node])
                             if any(n in per_node for n in required) else set())
    info = [t for t, s in sends.items() if s["type"] == "info"]
    info_arrived = [t for t in info if _arrived(t, sends[t], present_anywhere)]
    failed_delivered = sorted(t for t, s in sends.items() if s["type"] == "fail" and _arrived(t, s, present_anywhere))

    failures: list[str] = []
    for n in required:
        if n not in per_node:
            continue
        r = per_node[n]
        if require == "each" and r["lost"]:
            failures.append(f"{len(r['lost'])} acknowledged messages missing on {n}")
        if r["dup_extra"] and not allow_duplicates:
            failures.append(f"{r['dup_extra']} duplicate copies on {n}")
        if r["unexpected"]:
            failures.append(f"{len(r['unexpected'])} unexpected messages on {n}")
        if r["misdelivered"]:
            failures.append(f"{len(r['misdelivered'])} messages in the wrong user's mailbox on {n}")
        if r["resurrected"] and fail_on_resurrected:
            failures.append(f"{len(r['resurrected'])} removed messages back on {n}")
    if require == "any" and lost_everywhere:
        failures.append(f"{len(lost_everywhere)} acknowledged messages missing on every node")
    if failed_delivered and fail_on_failed_but_delivered:
        failures.append(f"{len(failed_delivered)} sends rejected with a definite failure were delivered")

    missing = None
    if not reads:
        missing = "no final reads" + (f" (failed: {', '.join(sorted(str(f['node']) for f in failed_reads))})" if failed_reads else "")
    elif any(n not in reads for n in required):
        missing = f"no final read of {', '.join(n for n in required if n not in reads)}"
    out = verdict(failures, ok=len(acked), min_ok=min_ok, missing=missing)
    req = [n for n in required if n in per_node]
    out.update({
        "totals": {  # the headline, over the required nodes
            "acked": len(acked),
            "lost": len(set().union(*(per_node[n]["lost"] for n in req))),
            "lost_everywhere": len(lost_everywhere),
            "duplicated": sum(per_node[n]["dup_extra"] for n in req),
            "unexpected": len(set().union(*(per_node[n]["unexpected"] for n in req))),
            "failed_but_delivered": len(failed_delivered),
        },
        "nodes": required,
        "final_reads": sorted(reads),
        "sends": counts,
        "acked": len(acked),
        "removed": len({t for (_u, t) in excused}),
        "lost": {n: tokset(per_node[n]["lost"]) for n in sorted(per_node)},
        "lost_everywhere": tokset(lost_everywhere),
        "duplicated": {n: {"count": per_node[n]["dup_extra"], "tokens": tokset(per_node[n]["dup_tokens"])["tokens"]}
                       for n in sorted(per_node)},
        "unexpected": {n: tokset(per_node[n]["unexpected"]) for n in sorted(per_node)},
        "misdelivered": {n: tokset(per_node[n]["misdelivered"]) for n in sorted(per_node)},
        "resurrected": {n: tokset(per_node[n]["resurrected"]) for n in sorted(per_node)},
        "untracked": {n: per_node[n]["untracked"] for n in sorted(per_node)},
        "indeterminate": {"arrived": len(info_arrived), "missing": len(info) - len(info_arrived)},
        "failed_but_delivered": tokset(failed_delivered),
        "failed_final_reads": failed_reads,
        "stable_latency": _latency(events, acked, touched),
    })
    if loss_at is not None and rpo_s is not None:
        out["exposed"] = {**tokset(exposed), "loss_at": rnd(float(loss_at)), "rpo_s": float(rpo_s)}
    if prefix:
        out["prefix"] = prefix
        out["ignored_other_tokens"] = foreign
    return out


def _sends(events) -> dict[str, dict]:
    sends: dict[str, dict] = {}
    for op in ops_of(events, "send"):
        iv = op.invoke.value or {}
        token = iv.get("token") or (op.value or {}).get("token")
        if token is None:
            continue
        s = {"type": op.type, "to": recipients(iv) or recipients(op.value), "start": op.start, "end": op.end}
        if token not in sends or RANK[s["type"]] > RANK[sends[token]["type"]]:
            sends[token] = s
    return sends


def _removals(events):
    """-> (excused {(user, token)}, removed_from {(user, mailbox, token)} by ok removals, touched tokens)."""
    excused: set[tuple[str, str]] = set()
    removed_from: set[tuple[str, str, str]] = set()
    touched: set[str] = set()  # tokens that left INBOX on purpose (no latency for them)
    for op in ops_of(events, ("expunge", "move", "pop-delete")):
        iv = op.invoke.value or {}
        user = addr(iv.get("user", ""))
        mailbox = "INBOX" if op.f == "pop-delete" else str(iv.get("mailbox", "INBOX"))
        for token in iv.get("tokens") or []:
            touched.add(token)
            if op.f == "move" or op.type == "fail":  # a move keeps the message with its user
                continue
            excused.add((user, token))  # ok: gone on purpose; info: may be gone
            if op.type == "ok":
                removed_from.add((user, mbkey(mailbox), token))
    return excused, removed_from, touched


def _node(mailboxes, sends, acked, excused, removed_from) -> dict:
    copies: dict[tuple[str, str], int] = defaultdict(int)
    where: set[tuple[str, str, str]] = set()
    untracked = 0
    for user, mb, _uid, token, _flags in iter_messages(mailboxes):
        if token is None:
            untracked += 1  # not a harness message (e.g. a bounce or a seed); cannot be traced
            continue
        copies[(user, token)] += 1
        where.add((user, mb, token))
    tokens_here = {t for (_u, t) in copies}
    users_of = defaultdict(set)
    for (u, t) in copies:
        users_of[t].add(u)
    lost = set()
    for token, s in acked.items():
        want = s["to"]
        if not want:  # recipient unknown: any user's mailbox will do
            if token not in tokens_here and not any(t == token for (_u, t) in excused):
                lost.add(token)
            continue
        if any((u, token) not in copies and (u, token) not in excused for u in want):
            lost.add(token)
    dup = {(u, t): c - 1 for (u, t), c in copies.items() if c > 1}
    return {
        "held": set(copies),
        "lost": lost,
        "dup_extra": sum(dup.values()),
        "dup_tokens": sorted({t for (_u, t) in dup}),
        "unexpected": {t for t in tokens_here if t not in sends},
        "misdelivered": sorted({t for (u, t) in copies if t in sends and sends[t]["to"] and u not in sends[t]["to"]}),
        "resurrected": sorted({t for (u, mb, t) in removed_from if (u, mb, t) in where}),
        "untracked": untracked,
    }


def _arrived(token, send, present_anywhere) -> bool:
    users = present_anywhere.get(token, set())
    return bool(users & set(send["to"])) if send["to"] else bool(users)


def _latency(events, acked, touched) -> dict | None:
    """Stable latency from the ``read`` ops of INBOX, as in Jepsen's set-full: from a send's
    invocation to the start of the first read after which every read of that INBOX saw it.
    Also: stale reads (began after the send was acknowledged, yet missed it) and tokens seen
    once, then missing from the last read."""
    reads: dict[str, list] = defaultdict(list)  # user -> [(start, end, tokens)]
    for op in ops_of(events, "read"):
        v = value(op)
        if op.type != "ok" or not is_inbox(v.get("mailbox", "INBOX")):
            continue
        reads[addr(v.get("user", ""))].append((op.start, op.end, {m.get("token") for m in v.get("messages") or []}))
    if not reads:
        return None
    for rs in reads.values():
        rs.sort(key=lambda r: (r[0], r[1]))
    starts = {u: [r[0] for r in rs] for u, rs in reads.items()}
    latencies, stale, never_read, flapped = [], 0, 0, []
    for token in sorted(acked):
        s = acked[token]
        if token in touched:
            continue
        for user in s["to"]:  # without a recipient there is no INBOX to watch
            later = reads.get(user, [])[bisect.bisect_left(starts.get(user, []), s["start"]):]
            if not later:
                never_read += 1
                continue
            stale += sum(1 for (st, _e, toks) in later if st >= s["end"] and token not in toks)
            i = len(later)
            while i > 0 and token in later[i - 1][2]:
                i -= 1
            if i == len(later):  # the last read missed it
                if any(token in toks for (_s, _e, toks) in later):
                    flapped.append(token)
                continue
            latencies.append(later[i][0] - s["start"])
    q = quantiles(latencies)
    q.update({"unit": "s", "never_read": never_read, "stale_reads": stale, "seen_then_missing": tokset(flapped)})
    return {k: (rnd(v) if isinstance(v, float) else v) for k, v in q.items()}
