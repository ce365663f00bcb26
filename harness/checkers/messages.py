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

**Where a message must be** (``require``), over the **required nodes**:
- ``"each"`` (a mirror: every replica holds everything): a message missing on any required
  node fails, naming the node;
- ``"any"`` (one store readable from every server, e.g. shared storage): a message fails as
  ``lost_everywhere`` only when no required node holds it;
- ``"owner"`` with ``owners={user: node or [nodes]}`` (a proxy: each user's mail lives on the
  user's own back end): a message must be on every owner node of each recipient; a copy on
  another node does not count. A recipient with no owner cannot be judged (``unknown``).

The required nodes come from the caller — ``nodes`` (the topology's data nodes) and, with
``require="owner"``, the owners' nodes — never from which reads happened to succeed.
Without either, every node with a ``final-read`` op (successful, failed or never completed)
is required (``required_from: "final-read ops"``): a node whose read was never even tried
cannot be known then, so callers pass ``nodes``.

**Outcomes**: a proven violation (loss under the rule above, duplicates unless allowed,
unexpected, misdelivered, resurrected unless allowed, failed-but-delivered unless allowed)
fails. Otherwise, if a required node has no successful final read (failed, never completed
or absent) the verdict is ``unknown``: a failed read never counts as "nothing missing", and
with ``"any"`` / ``"owner"`` a message missing from the nodes that were read may be on the
one that was not, so no loss is proven there. A recipient without an owner, or a loss fault
(``loss_fault``) not found in the history, is ``unknown`` too. Fewer than ``min_ok``
acknowledged sends is ``unknown``; everything else passes.

**Recovery point** (``loss_at`` or ``loss_fault``, with ``rpo_s``): a storage holder was
destroyed; only mail acknowledged between ``loss_at − rpo_s`` and ``loss_at`` may be lost
with it: such losses are reported as ``exposed``, not judged. Mail acknowledged earlier, or
after the loss (a surviving node acknowledged it), that is lost fails.

The per-node ``lost`` lists say what each node lacks, whatever the rule; ``totals.lost`` counts
the messages lost under the rule (for ``"any"``: lost everywhere, and only once every required
node was read).

``users_affected``: complete sorted lists of the users with mail ``lost`` (under the rule),
``duplicated``, ``resurrected`` or ``misdelivered`` (someone else's mail in their mailbox) on
a required node — for judgements that count users; the per-kind token lists are examples
capped at 20.
"""
from __future__ import annotations

import bisect
from collections import defaultdict

from ..history import NEMESIS
from .common import (addr, final_reads, is_inbox, iter_messages, keep_prefix, mbkey, names, ops_of, quantiles,
                     recipients, rnd, tokset, users, value, verdict)

RANK = {"ok": 2, "info": 1, "fail": 0}  # a token sent twice counts by its best outcome
REQUIRE = ("each", "any", "owner")


def check(events, *, nodes=None, min_ok=None, allow_duplicates=False, fail_on_failed_but_delivered=True,
          fail_on_resurrected=True, require="each", owners=None, prefix=None, loss_at=None, rpo_s=None,
          loss_fault=None) -> dict:
    """``nodes``: the nodes that must hold each message (a name or a list; the topology's data
    nodes). ``owners``: ``{user: node or [nodes]}``, required with ``require="owner"`` only.

    ``prefix``: only tokens starting with it count (a test's own mail, when earlier tests left
    theirs in the same mailboxes); the rest of the mailbox is ignored, not 'unexpected'.

    ``loss_at`` (history time) or ``loss_fault`` (the id of the nemesis fault that destroyed a
    storage holder: from its invocation to its completion) + ``rpo_s``: the recovery point
    window, see the module docstring."""
    if require not in REQUIRE:
        raise ValueError(f"require must be one of {', '.join(REQUIRE)}, got {require!r}")
    if (require == "owner") != bool(owners):
        raise ValueError("owners={user: node} goes with require='owner' (and only with it)")
    if loss_at is not None and loss_fault is not None:
        raise ValueError("give loss_at or loss_fault, not both")
    owner_of = {addr(u): names(n) for u, n in (owners or {}).items()}
    sends = _sends(events)
    excused, removed_from, touched = _removals(events)
    reads, failed_reads = final_reads(events)
    foreign = 0
    if prefix:
        sends = {t: s for t, s in sends.items() if t.startswith(prefix)}
        foreign = keep_prefix(reads, prefix)
    acked = {t: s for t, s in sends.items() if s["type"] == "ok"}
    required, required_from = _required(nodes, owner_of, reads, failed_reads)
    counts = {k: sum(1 for s in sends.values() if s["type"] == k) for k in ("ok", "fail", "info")}
    notes: list[str] = []  # reasons for unknown

    per_node: dict[str, dict] = {}
    present_anywhere: dict[str, set] = defaultdict(set)  # token -> users holding it on some node
    for node in sorted(reads):
        per_node[node] = _node(reads[node], sends, acked, excused, removed_from)
        for (user, token) in per_node[node]["held"]:
            present_anywhere[token].add(user)

    window, note = _rpo_window(events, loss_at, loss_fault, rpo_s)
    notes += [note] if note else []
    exposed: set[str] = set()
    if window is not None:
        lo, hi = window
        young = {t for t, sd in acked.items() if sd["end"] is not None and lo <= sd["end"] <= hi}
        for r in per_node.values():
            exposed |= {t for (_u, t) in r["lost"] if t in young}
            r["lost"] = {(u, t) for (u, t) in r["lost"] if t not in young}

    read = [n for n in required if n in per_node]
    unread = [n for n in required if n not in per_node]
    everywhere = set.intersection(*[per_node[n]["lost"] for n in read]) if read else set()  # (user, token)
    lost_pairs, unowned = _judged_losses(require, per_node, read, unread, everywhere, owner_of)
    info = [t for t, s in sends.items() if s["type"] == "info"]
    info_arrived = [t for t in info if _arrived(t, sends[t], present_anywhere)]
    failed_delivered = sorted(t for t, s in sends.items() if s["type"] == "fail" and _arrived(t, s, present_anywhere))

    failures: list[str] = []
    for n in read:
        r = per_node[n]
        mine = {t for (u, t) in lost_pairs.get(n, set())}
        if mine:
            where = "on their owner " if require == "owner" else "on "
            failures.append(f"{len(mine)} acknowledged messages missing {where}{n}")
        if r["dup_extra"] and not allow_duplicates:
            failures.append(f"{r['dup_extra']} duplicate copies on {n}")
        if r["unexpected"]:
            failures.append(f"{len(r['unexpected'])} unexpected messages on {n}")
        if r["misdelivered"]:
            failures.append(f"{len(r['misdelivered'])} messages in the wrong user's mailbox on {n}")
        if r["resurrected"] and fail_on_resurrected:
            failures.append(f"{len(r['resurrected'])} removed messages back on {n}")
    if lost_pairs.get("*"):
        failures.append(f"{len({t for (_u, t) in lost_pairs['*']})} acknowledged messages missing on every node")
    if failed_delivered and fail_on_failed_but_delivered:
        failures.append(f"{len(failed_delivered)} sends rejected with a definite failure were delivered")

    if unread:
        failed = {str(f["node"]): f["error"] for f in failed_reads}
        notes.insert(0, "no successful final read of " + ", ".join(
            f"{n} ({failed[n]})" if n in failed else f"{n} (never read)" for n in unread) + (
            f": {len({t for (_u, t) in everywhere})} messages missing from the nodes read may be there"
            if require != "each" and everywhere else ""))
    if not required:
        notes.insert(0, "no final reads")
    if unowned:
        notes.append(f"no owner node for {len(unowned)} recipients ({', '.join(unowned[:3])}): their mail cannot be judged")
    out = verdict(failures, ok=len(acked), min_ok=min_ok, missing="; ".join(notes) or None)
    judged = set().union(*lost_pairs.values()) if lost_pairs else set()
    out.update({
        "totals": {  # the headline, over the required nodes
            "acked": len(acked),
            "lost": len({t for (_u, t) in judged}),  # under the require rule
            "lost_everywhere": len({t for (_u, t) in everywhere}),
            "duplicated": sum(per_node[n]["dup_extra"] for n in read),
            "unexpected": len(set().union(*(per_node[n]["unexpected"] for n in read))),
            "failed_but_delivered": len(failed_delivered),
        },
        "require": require,
        "nodes": required,
        "required_from": required_from,
        "unread_nodes": unread,
        "final_reads": sorted(reads),
        "sends": counts,
        "acked": len(acked),
        "removed": len({t for (_u, t) in excused}),
        "lost": {n: tokset({t for (_u, t) in per_node[n]["lost"]}) for n in sorted(per_node)},
        "lost_everywhere": tokset({t for (_u, t) in everywhere}),
        "duplicated": {n: {"count": per_node[n]["dup_extra"], "tokens": tokset(per_node[n]["dup_tokens"])["tokens"]}
                       for n in sorted(per_node)},
        "unexpected": {n: tokset(per_node[n]["unexpected"]) for n in sorted(per_node)},
        "misdelivered": {n: tokset(per_node[n]["misdelivered"]) for n in sorted(per_node)},
        "resurrected": {n: tokset(per_node[n]["resurrected"]) for n in sorted(per_node)},
        "untracked": {n: per_node[n]["untracked"] for n in sorted(per_node)},
        "indeterminate": {"arrived": len(info_arrived), "missing": len(info) - len(info_arrived)},
        "failed_but_delivered": tokset(failed_delivered),
        "failed_final_reads": failed_reads,
        "users_affected": {
            "lost": users(u for (u, _t) in judged),
            "duplicated": users(u for n in read for u in per_node[n]["dup_users"]),
            "resurrected": users(u for n in read for u in per_node[n]["resurrected_users"]),
            "misdelivered": users(u for n in read for u in per_node[n]["misdelivered_users"]),
        },
        "stable_latency": _latency(events, acked, touched),
    })
    if require == "owner":
        out["owners"] = {u: owner_of[u] for u in sorted(owner_of)}
        out["unowned_recipients"] = unowned
    if rpo_s is not None and (loss_at is not None or loss_fault is not None):
        out["exposed"] = {**tokset(exposed), "loss_at": rnd(window[1]) if window else None,
                          "window": [rnd(window[0]), rnd(window[1])] if window else None, "rpo_s": float(rpo_s)}
        if loss_fault is not None:
            out["exposed"]["loss_fault"] = loss_fault
    if prefix:
        out["prefix"] = prefix
        out["ignored_other_tokens"] = foreign
    return out


def _required(nodes, owner_of, reads, failed_reads) -> tuple[list[str], str]:
    """The nodes that must be read (and, by the require rule, hold the mail), and where the list came from."""
    owned = {n for ns in owner_of.values() for n in ns or []}
    if nodes is not None or owned:
        return sorted(set(names(nodes) or []) | owned), "caller" if nodes is not None else "owners"
    return sorted(set(reads) | {str(f["node"]) for f in failed_reads}), "final-read ops"


def _rpo_window(events, loss_at, loss_fault, rpo_s) -> tuple[tuple[float, float] | None, str | None]:
    """[loss − rpo_s, loss] in history time (None without a loss or rpo_s), and a note when the
    loss fault is not in the history (then nothing is excused)."""
    if rpo_s is None or (loss_at is None and loss_fault is None):
        return None, None
    if loss_at is not None:
        return (float(loss_at) - float(rpo_s), float(loss_at)), None
    for op in ops_of(events, "fault", proc_prefix=NEMESIS):
        if (op.invoke.value or {}).get("id") == loss_fault and op.type == "ok":
            return (op.start - float(rpo_s), op.end), None
    return None, f"loss fault {loss_fault} not applied in the history: no recovery-point window"


def _judged_losses(require, per_node, read, unread, everywhere, owner_of) -> tuple[dict, list[str]]:
    """Losses proven under the require rule: {node: {(user, token)}}, with "*" for lost on every
    node; and the recipients no owner is known for (owner rule)."""
    out: dict[str, set] = {}
    if require == "each":
        out = {n: set(per_node[n]["lost"]) for n in read}
    elif require == "any":
        if not unread:
            out["*"] = set(everywhere)
    else:  # owner
        for n in read:
            out[n] = {(u, t) for (u, t) in per_node[n]["lost"] if u and n in (owner_of.get(u) or [])}
        if not unread:  # a message with no recipient must be somewhere
            out["*"] = {(u, t) for (u, t) in everywhere if not u}
    out = {k: v for k, v in out.items() if v}
    unowned = []
    if require == "owner":
        recips = {u for r in per_node.values() for (u, _t) in r["wanted"]}
        unowned = sorted(u for u in recips if u and u not in owner_of)
    return out, unowned


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
    excused_tokens = {t for (_u, t) in excused}
    lost: set[tuple[str, str]] = set()  # (recipient, token); recipient "" when the send named none
    wanted: set[tuple[str, str]] = set()
    for token, s in acked.items():
        want = s["to"]
        if not want:  # recipient unknown: any user's mailbox will do
            wanted.add(("", token))
            if token not in tokens_here and token not in excused_tokens:
                lost.add(("", token))
            continue
        for u in want:
            wanted.add((u, token))
            if (u, token) not in copies and (u, token) not in excused:
                lost.add((u, token))
    dup = {(u, t): c - 1 for (u, t), c in copies.items() if c > 1}
    misdelivered = {(u, t) for (u, t) in copies if t in sends and sends[t]["to"] and u not in sends[t]["to"]}
    resurrected = {(u, t) for (u, mb, t) in removed_from if (u, mb, t) in where}
    return {
        "held": set(copies),
        "lost": lost,
        "wanted": wanted,
        "dup_extra": sum(dup.values()),
        "dup_tokens": sorted({t for (_u, t) in dup}),
        "dup_users": {u for (u, _t) in dup},
        "unexpected": {t for t in tokens_here if t not in sends},
        "misdelivered": sorted({t for (_u, t) in misdelivered}),
        "misdelivered_users": {u for (u, _t) in misdelivered},
        "resurrected": sorted({t for (_u, t) in resurrected}),
        "resurrected_users": {u for (u, _t) in resurrected},
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
