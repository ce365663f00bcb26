"""``replicas``: are the replicas identical, and did clients see IMAP's promises kept?

From the final reads of two or more nodes, per user and mailbox: the mailbox exists on
every node, UIDVALIDITY is equal, the uid -> token map is identical (so an
**equal-count divergence** — same count, same UIDs, different messages, as a symmetric
partition leaves a Dovecot mirror — is caught, not just differing counts), flags per token
are equal, UIDs are unique and strictly increasing, and no token sits on two UIDs.

From the earlier ``read`` ops (through the VIP or directly): UIDVALIDITY changes a client
would have seen, **UIDs reused** (one UID, same UIDVALIDITY, two different messages — a
client's cache would show the wrong mail) and **renumbering** (a token a client saw under
one UID now under another: it re-downloads it; legal, so only counted unless
``fail_on_renumbering``).

The compared nodes are ``nodes`` (the topology's data nodes) or, without it, every node with a
``final-read`` op, successful or not: a node whose final read failed is never left out, it
makes the verdict ``unknown`` (unless a difference is already proven).

``users_affected``: complete sorted lists of the users with a ``uid_reused``, a
``uidvalidity_changed`` or a ``renumbered`` case (the example lists are capped at 20; count
users from these).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from .common import (CAP, addr, final_reads, has_prefix, keep_prefix, mbkey, names, ops_of, tokset, users, value,
                     verdict)


def check(events, *, nodes=None, min_ok=None, fail_on_renumbering=False, allow_duplicates=False,
          ignore_flags=("\\Recent",), prefix=None, fail_on_client_view=True) -> dict:
    """``prefix``: judge only messages whose token starts with it (one test's own mail, when earlier
    tests' mail shares the mailboxes); ``read`` ops are filtered the same way.
    ``fail_on_client_view=False``: what clients saw during the run (UIDVALIDITY changes, a UID
    shown for two messages) is counted, not judged — the replicas' final state still is."""
    reads, failed_reads = final_reads(events)
    if prefix:
        keep_prefix(reads, prefix)
        events = [_only_prefix(e, prefix) for e in events]
    compared = names(nodes) or sorted(set(reads) | {str(f["node"]) for f in failed_reads})
    have = [n for n in compared if n in reads]
    ignore = {str(f).lower() for f in ignore_flags}

    boxes: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)  # (user, mailbox) -> node -> box
    for n in have:
        for user, mbs in reads[n].items():
            for mb, box in mbs.items():
                boxes[(user, mb)][n] = box

    missing_mailboxes, uv_mismatch, equal_count, conflicts, moved, flag_diff = [], [], [], [], [], []
    missing_tokens: dict[str, set] = {n: set() for n in have}
    order_violations, two_uids = [], []
    flag_count = 0
    tokens_all: set = set()
    for (user, mb) in sorted(boxes):
        per = boxes[(user, mb)]
        for n in have:
            if n in per:
                order_violations += _order(n, user, mb, per[n]["messages"])
                two_uids += _two_uids(n, user, mb, per[n]["messages"])
        if len(per) < len(have):
            missing_mailboxes.append({"user": user, "mailbox": mb, "missing_on": [n for n in have if n not in per]})
        uvs = {n: per[n]["uidvalidity"] for n in sorted(per)}
        if len({v for v in uvs.values() if v is not None}) > 1:
            uv_mismatch.append({"user": user, "mailbox": mb, "uidvalidity": uvs})
        maps = {n: _uid_map(per[n]["messages"]) for n in sorted(per)}
        toks = {n: {m.get("token") for m in per[n]["messages"]} - {None} for n in sorted(per)}
        union = set().union(*toks.values())
        tokens_all |= union
        for n in have:
            missing_tokens[n] |= union - toks.get(n, set())
        diff = []  # every UID whose message is not the same on all nodes
        for uid in sorted(set().union(*(set(m) for m in maps.values())), key=_uid_key):
            seen = {n: maps.get(n, {}).get(uid) for n in have}
            if len(set(seen.values())) > 1:
                diff.append({"uid": uid, "tokens": seen})
        for d in diff:  # the same UID holds different messages (absent UIDs count as missing)
            if all(t is not None for t in d["tokens"].values()):
                conflicts.append({"user": user, "mailbox": mb, **d})
        if len(toks) == len(have):  # the same message under different UIDs
            for token in sorted(set.intersection(*toks.values())):
                uids = {n: _uids(per[n]["messages"], token) for n in have}
                if len({tuple(u) for u in uids.values()}) > 1:
                    moved.append({"user": user, "mailbox": mb, "token": token, "uids": uids})
        counts = {len(per[n]["messages"]) for n in per}
        if diff and len(per) == len(have) and len(counts) == 1:
            same_uids = len({frozenset(maps[n]) for n in maps}) == 1
            equal_count.append({"user": user, "mailbox": mb, "messages": counts.pop(), "same_uids": same_uids,
                                "differing_uids": len(diff), "examples": diff[:3]})
        for token in sorted(set.intersection(*toks.values()) if len(toks) == len(have) else set()):
            fl = {n: _flags(per[n]["messages"], token, ignore) for n in sorted(per)}
            if len({tuple(v) for v in fl.values()}) > 1:
                flag_count += 1
                if len(flag_diff) < CAP:
                    flag_diff.append({"user": user, "mailbox": mb, "token": token, "flags": fl})

    history = _client_view(events, reads, have)
    failures: list[str] = []
    if missing_mailboxes:
        failures.append(f"{len(missing_mailboxes)} mailboxes missing on some node")
    if uv_mismatch:
        failures.append(f"UIDVALIDITY differs between nodes in {len(uv_mismatch)} mailboxes")
    if equal_count:
        failures.append(f"{len(equal_count)} mailboxes with the same message count but different messages")
    for n in have:
        if missing_tokens[n]:
            failures.append(f"{len(missing_tokens[n])} messages missing on {n}")
    if conflicts:
        failures.append(f"{len(conflicts)} UIDs hold different messages on different nodes")
    if moved:
        failures.append(f"{len(moved)} messages have different UIDs on different nodes")
    if flag_count:
        failures.append(f"flags differ for {flag_count} messages")
    if order_violations:
        failures.append(f"{len(order_violations)} UIDs not unique or not increasing")
    if two_uids and not allow_duplicates:
        failures.append(f"{len(two_uids)} tokens on two UIDs in one mailbox")
    if history["uidvalidity_changed"]["count"] and fail_on_client_view:
        failures.append(f"UIDVALIDITY changed during the run in {history['uidvalidity_changed']['count']} cases")
    if history["uid_reused"]["count"] and fail_on_client_view:
        failures.append(f"{history['uid_reused']['count']} UIDs clients saw pointing at two different messages")
    if history["renumbered"]["count"] and fail_on_renumbering:
        failures.append(f"{history['renumbered']['count']} messages renumbered")

    missing = None
    if len(have) < 2:
        missing = f"need final reads of at least 2 nodes, have {len(have)}" + (
            f" (failed: {', '.join(sorted(str(f['node']) for f in failed_reads))})" if failed_reads else "")
    elif len(have) < len(compared):
        failed = {str(f["node"]): f["error"] for f in failed_reads}
        missing = "no successful final read of " + ", ".join(
            f"{n} ({failed[n]})" if n in failed else f"{n} (never read)" for n in compared if n not in reads)
    out = verdict(failures, ok=len(tokens_all), min_ok=min_ok, missing=missing)
    identical = not (missing_mailboxes or uv_mismatch or flag_count or conflicts or moved
                     or any(missing_tokens.values()))
    out.update({
        "totals": {  # the headline
            "messages": len(tokens_all),
            "missing": len(set().union(*missing_tokens.values())),
            "uid_conflicts": len(conflicts),
            "flag_mismatch": flag_count,
            "uid_reused": history["uid_reused"]["count"],
            "renumbered": history["renumbered"]["count"],
        },
        "nodes": have,
        "identical": identical and len(have) >= 2,
        "mailboxes": len(boxes),
        "messages": len(tokens_all),
        "missing_mailboxes": missing_mailboxes[:CAP],
        "uidvalidity_mismatch": uv_mismatch[:CAP],
        "missing": {n: tokset(missing_tokens[n]) for n in have},
        "uid_conflicts": {"count": len(conflicts), "examples": conflicts[:CAP]},
        "uid_differs": {"count": len(moved), "examples": moved[:CAP]},
        "equal_count_divergence": equal_count[:CAP],
        "flag_mismatch": {"count": flag_count, "examples": flag_diff},
        "uid_order_violations": order_violations[:CAP],
        "token_on_two_uids": {"count": len(two_uids), "examples": two_uids[:CAP]},
        **history,
    })
    return out


def _only_prefix(e, prefix):
    """A ``read`` event keeping only the messages of ``prefix`` (other events unchanged)."""
    if e.f != "read" or not isinstance(e.value, dict) or "messages" not in e.value:
        return e
    return replace(e, value={**e.value, "messages": [m for m in e.value["messages"] if has_prefix(m, prefix)]})


def _uid_key(uid):
    return (0, uid, "") if isinstance(uid, (int, float)) else (1, 0, str(uid))


def _uid_map(messages) -> dict:
    m: dict = {}
    for msg in messages:
        m.setdefault(msg.get("uid"), msg.get("token"))  # a repeated UID is reported by _order
    return m


def _uids(messages, token) -> list:
    return sorted((m.get("uid") for m in messages if m.get("token") == token), key=_uid_key)


def _flags(messages, token, ignore) -> list[str]:
    for m in messages:
        if m.get("token") == token:
            return sorted({str(f) for f in m.get("flags") or [] if str(f).lower() not in ignore})
    return []


def _order(node, user, mb, messages) -> list[dict]:
    """UIDs must be unique and strictly increasing in the order the server listed them."""
    out, prev = [], None
    for m in messages:
        uid = m.get("uid")
        if not isinstance(uid, int):
            out.append({"node": node, "user": user, "mailbox": mb, "uid": uid, "after": prev, "problem": "not a number"})
            continue
        if prev is not None and uid <= prev:
            out.append({"node": node, "user": user, "mailbox": mb, "uid": uid, "after": prev,
                        "problem": "repeated" if uid == prev else "decreasing"})
        prev = uid if prev is None else max(prev, uid)
    return out


def _two_uids(node, user, mb, messages) -> list[dict]:
    uids = defaultdict(list)
    for m in messages:
        if m.get("token") is not None:
            uids[m["token"]].append(m.get("uid"))
    return [{"node": node, "user": user, "mailbox": mb, "token": t, "uids": sorted(u, key=_uid_key)}
            for t, u in sorted(uids.items()) if len(u) > 1]


def _client_view(events, reads, have) -> dict:
    """What clients saw over the run, judged against the final state of every compared node
    (after a failover any of them may serve the client)."""
    changed: dict[tuple, set] = defaultdict(set)  # (user, mailbox, was, now) -> nodes
    renumbered: dict[tuple, dict] = {}
    seen: dict[tuple, dict] = defaultdict(lambda: defaultdict(set))  # (user, mb, uidvalidity) -> uid -> tokens
    client_uids: set[tuple] = set()
    final: dict[tuple, dict] = defaultdict(dict)  # (user, mailbox) -> node -> (uidvalidity, token -> uids)
    for n in have:
        for user, mbs in reads[n].items():
            for mb, box in mbs.items():
                t2u = defaultdict(set)
                for m in box["messages"]:
                    if m.get("token") is not None:
                        t2u[m["token"]].add(m.get("uid"))
                        seen[(user, mbkey(mb), box["uidvalidity"])][m.get("uid")].add(m["token"])
                final[(user, mbkey(mb))][n] = (box["uidvalidity"], t2u)
    for op in ops_of(events, "read"):
        if op.type != "ok":
            continue
        v = value(op)
        user, mb, uv = addr(v.get("user", "")), mbkey(str(v.get("mailbox", "INBOX"))), v.get("uidvalidity")
        msgs = [m for m in v.get("messages") or [] if m.get("token") is not None]
        for m in msgs:
            client_uids.add((user, mb, uv, m.get("uid")))
            seen[(user, mb, uv)][m.get("uid")].add(m["token"])
        for n, (fuv, t2u) in sorted(final.get((user, mb), {}).items()):
            if uv is not None and fuv is not None and uv != fuv:
                changed[(user, mb, uv, fuv)].add(n)
                continue  # a new UIDVALIDITY allows new UIDs
            for m in msgs:
                token, uid = m["token"], m.get("uid")
                if token in t2u and uid not in t2u[token]:
                    renumbered.setdefault((user, mb, token), {
                        "user": user, "mailbox": mb, "token": token, "was_uid": uid,
                        "now_uids": sorted(t2u[token], key=_uid_key), "node": n})
    reused = []
    for (user, mb, uv), uids in sorted(seen.items(), key=lambda kv: tuple(map(str, kv[0]))):
        for uid in sorted(uids, key=_uid_key):
            if len(uids[uid]) > 1 and (user, mb, uv, uid) in client_uids:
                reused.append({"user": user, "mailbox": mb, "uidvalidity": uv, "uid": uid, "tokens": sorted(uids[uid])})
    changes = [{"user": u, "mailbox": mb, "was": was, "now": now, "nodes": sorted(changed[(u, mb, was, now)])}
               for (u, mb, was, now) in sorted(changed, key=lambda k: tuple(map(str, k)))]
    return {
        "uidvalidity_changed": {"count": len(changes), "examples": changes[:CAP]},
        "uid_reused": {"count": len(reused), "examples": reused[:CAP]},
        "renumbered": {"count": len(renumbered), "examples": [renumbered[k] for k in sorted(renumbered)][:CAP]},
        "users_affected": {"uid_reused": users(x["user"] for x in reused),
                           "uidvalidity_changed": users(x["user"] for x in changes),
                           "renumbered": users(u for (u, _mb, _t) in renumbered)},
    }

