"""Claim judgements, design-neutral: checker results -> claim verdicts.

Data flows one way: workload and probes -> history -> checkers (pure) -> **judgements** ->
evidence -> report. A suite scripts one scenario per claim and calls these; the chaos runner
draws a schedule and calls the same ones (``under_chaos``). No suite keeps its own copy.

Each judgement takes a ``Certifier`` (``cert``: it runs checkers on the scenario's window, stores
their results for ``mailha analyze``, and collects claims) and the finished ``Scenario`` (``sc``),
and records the claims it can evidence with the numbers behind them. The rules that differ
between designs are read from the topology (the compose file's ``x-mailha`` block), never from
the suite:

- **where a message must be** (``placement``): on every replica when every data node holds every
  user (a mirror), on the one store that holds its user otherwise (proxy back ends; a shared
  store read through any server is one store);
- **which services exist**: the client endpoints;
- **which virtual IPs exist and who may hold them**: ``vips``;
- **what removes a data holder**: a confirmed ``wipe`` (a node and its disk lost) of a data
  node — only a scenario with such a loss may evidence data redundancy as kept; any scenario
  may show it violated.

Verdict rules shared by all: a checker's ``unknown`` never becomes a Yes; a violation seen is a
violation whatever else was unknown.
"""
from __future__ import annotations

import re

from . import e2e
from .claims import catalogue
from .certification import from_check, gaps, num, verdict, within
from .history import is_nemesis, iter_fault_windows
from .history import ops as history_ops

#: faults after which a data holder's copy of the mail is gone (its disk with it): a mail node's
#: disk (``wipe``), or a storage node's brick of a shared store (``brick-wipe``, ``tier: nas``)
HOLDER_LOSS = ("wipe", "brick-wipe")
#: client operations that remove a message from a mailbox (the ``messages`` checker's removals)
REMOVALS = ("expunge", "move", "pop-delete")


# -- what the topology says ---------------------------------------------------------------------
def placement(topo) -> dict:
    """Where an acknowledged message must be, from the topology, as options of the ``messages``
    checker. Every data node holding every user (replicas, or one shared store) -> each data node
    read must hold it (``require="each"``); otherwise each user's mail must be on the node(s) that
    hold that user (``require="owner"`` with ``owners``)."""
    data = [n.name for n in topo.data_nodes()]
    everyone = set(topo.users())
    if all(set(topo.users_of(n)) >= everyone for n in data):
        return {"require": "each", "nodes": data}
    return {"require": "owner", "nodes": data, "owners": {u: topo.holder_of(u) for u in sorted(everyone)}}


def holders_lost(cert, sc) -> list[str]:
    """Data holders whose copy was destroyed by a confirmed fault inside the scenario's window: the
    data nodes, and the storage nodes (``tier: nas``) of a shared store."""
    data = {n.name for n in sc.topo.data_nodes()} | {n for n, x in sc.topo.nodes.items() if x.meta.get("tier") == "nas"}
    lo, hi = sc.window
    ev = [e for e in cert.h.snapshot() if is_nemesis(e.proc) and lo <= e.t <= hi]
    return sorted({w["target"] for w in iter_fault_windows(ev)
                   if w["applied"] and w["fault"] in HOLDER_LOSS and w["target"] in data})


def queue_not_drained(cert, sc) -> str | None:
    """Why the MTA queues were not empty at the end of the scenario (its last ``queue-drain`` op
    failed), or None when they drained."""
    lo, hi = sc.window
    drains = [o for o in history_ops([e for e in cert.h.snapshot() if lo <= e.t <= hi], "queue-drain")]
    if drains and drains[-1].type != "ok":
        return drains[-1].error or "queues not empty"
    return None


def _other_violations(m: dict) -> bool:
    """A messages result that fails on more than missing mail (duplicates, strangers, resurrected)."""
    return any("missing" not in r for r in m.get("reasons") or [])


def test_events(cert, sc) -> list:
    """This test's events inside the scenario's window (one definition of "the test's history")."""
    lo, hi = sc.window
    return [e for e in cert.h.snapshot() if e.test == cert.nodeid and lo <= e.t <= hi]


# -- services ---------------------------------------------------------------------------------------
def endpoint_protos(topo) -> list[str]:
    """The client protocols the design serves (its endpoints): each must be probed."""
    return [p for p in ("smtp", "imap", "pop3", "http") if topo.has_endpoint(p)]


def e2e_users(topo) -> list[str]:
    """One user per store: enough users that every data node's mail is read back once."""
    users = topo.users()
    chosen: list[str] = []
    covered: set[str] = set()
    for n in topo.data_nodes():
        if n.name in covered:
            continue
        held = sorted(topo.users_of(n.name))
        if not held:
            continue
        u = held[0]
        chosen.append(u)
        covered |= set(topo.holder_of(u))
    return chosen or sorted(users)[:1]


def protocols_work(cert, sc, label: str) -> dict:
    """SMTP/POP/IMAP/Webmail rows: an end-to-end round trip through the client endpoints (send,
    then read back with every protocol), for one user of every store."""
    out = {}
    users = e2e_users(sc.topo)
    for user in users:
        where = "/".join(sc.topo.holder_of(user)) or "?"
        suffix = "" if len(users) == 1 else f"_{re.sub('[^a-z0-9]', '', where)}"
        tok = f"mh-{sc.tag}-e2e{re.sub('[^a-z0-9]', '', label)}{suffix.lstrip('_')}"
        res = e2e.roundtrip(sc.topo, cert.h, tok, user=user)
        out[user] = res
        for proto, claim in e2e.PROTO_CLAIM.items():
            r = res.get(proto)
            if r is None:
                if proto == "smtp" or sc.topo.has_endpoint(proto):
                    cert.claim(claim, "unknown", reasons=[f"{proto} {label} for {user}: not tried "
                                                          f"({'SMTP failed' if proto != 'smtp' else 'no endpoint'})"])
                continue
            cert.claim(claim, verdict(r["ok"]), checks=["e2e"],
                       numbers={f"{proto}_roundtrip_{label}{suffix}": num(r["seconds"], "s")},
                       reasons=[] if r["ok"] else [f"{proto} {label} for {user} (on {where}): {r['error']}"])
    return out


def steady_service(cert, sc, label: str = "steady") -> dict:
    """SMTP/POP/IMAP/Webmail rows, as the clients saw them through a window WITHOUT faults: a round
    trip after the window (``protocols_work``) says the path works, not that it served. Per
    protocol, the ``availability`` checker's rules with the no-fault bound — longest gap at most
    ``no_interruption_s``, availability at least ``failover_min_availability``, at most
    ``broken_sessions_ratio`` of the long-lived sessions broken: a design in steady state must
    serve at least as well as one in a failover does. ``unknown`` for a protocol without probes."""
    thr = cert.thresholds
    a = cert.check("availability", sc, bound_s=thr["no_interruption_s"], protos=list(endpoint_protos(sc.topo)))
    for proto, d in sorted((a.get("protos") or {}).items()):
        if d.get("fault_windows"):
            raise AssertionError(f"steady_service({label}): the window had faults; judge it with failover_gaps")
        claim = e2e.PROTO_CLAIM.get(proto, proto)
        gap = (d.get("longest_gap") or {}).get("value")
        av = (d.get("availability") or {}).get("value")
        s = d.get("sessions") or {}
        ratio = (s.get("broken_ratio") or {}).get("value")
        nums = {f"{proto}_longest_gap_{label}": num(gap, "s", thr["no_interruption_s"]),
                f"{proto}_availability_{label}": num(av, "", thr["failover_min_availability"], ">=")}
        if ratio is not None:  # a protocol with long-lived sessions (IMAP, webmail)
            nums[f"{proto}_sessions_broken_ratio_{label}"] = num(ratio, "", thr["broken_sessions_ratio"])
        if not d.get("probes"):
            cert.claim(claim, "unknown", numbers=nums, checks=["availability"],
                       reasons=[f"{proto} {label}: no probes, the service was not measured"])
            continue
        reasons = []
        if not within(gap, thr["no_interruption_s"]):
            reasons.append(f"{proto} {label}: {gap} s without service with no fault (bound {thr['no_interruption_s']} s)")
        if not within(av, thr["failover_min_availability"], ">="):
            reasons.append(f"{proto} {label}: {d.get('failed')} of {d.get('probes')} probes failed with no fault")
        if ratio is not None and not within(ratio, thr["broken_sessions_ratio"]):
            errs = ", ".join(f"{e} ×{c}" for e, c in list((s.get("errors") or {}).items())[:2])
            reasons.append(f"{proto} {label}: {s['broken']} of {s['ended']} sessions broken with no fault ({errs})")
        value = verdict(not reasons)
        if value == "Yes" and (d.get("ok") or 0) < thr["min_ok_ops"]:
            value, reasons = "unknown", [f"{proto} {label}: {d.get('ok')} probes answered, too few to say"]
        cert.claim(claim, value, numbers=nums, reasons=reasons, checks=["availability"])
    return a


def steady_window(cert, sc, *, loss_claim: str | None = None) -> dict:
    """The judgements of a window without faults, as every design's basic scenario makes them: an
    end-to-end round trip per protocol after it (``protocols_work``), what the clients saw during
    it (``steady_service``) and no acknowledged mail lost (``no_loss``, recorded under
    ``loss_claim`` — or only when violated, without one). Returns the messages checker's result."""
    protocols_work(cert, sc, "steady")
    steady_service(cert, sc)
    return no_loss(cert, sc, claim=loss_claim)


# -- mail kept --------------------------------------------------------------------------------------
def no_loss(cert, sc, *, claim: str | None = None, label: str = "", **options) -> dict:
    """No acknowledged message lost, none unexpected, judged where the topology says each message
    must be (``placement``). Duplicates (Postfix delivers at least once) and deleted mail that came
    back are counted here and judged under ``users_unaware``.

    ``data_redundancy`` is recorded when the scenario lost a data holder (``HOLDER_LOSS``), or when
    mail was lost and the sheet claims data redundancy (a violation is a violation whatever the
    scenario). ``claim`` also records the verdict under the claim the scenario is about; a loss
    with no holder lost is always recorded there (``smtp`` by default: accepted mail is delivered),
    so it can never pass as a design's disclosed "No"."""
    for k, v in placement(sc.topo).items():
        options.setdefault(k, v)
    options.setdefault("allow_duplicates", True)
    options.setdefault("fail_on_resurrected", False)
    m = cert.check("messages", sc, **options)
    t = m.get("totals") or {}
    resurrected = sum(x.get("count", 0) for x in (m.get("resurrected") or {}).values())
    lost_key = "lost"  # under the placement rule (messages checker)
    sfx = f"_{label}" if label else ""
    nums = {f"acked{sfx}": num(t.get("acked")), f"lost{sfx}": num(t.get(lost_key), "", 0),
            f"duplicated{sfx}": num(t.get("duplicated")), f"resurrected{sfx}": num(resurrected)}
    value = from_check(m)
    queued = queue_not_drained(cert, sc)
    if value == "No" and queued and not _other_violations(m):
        # missing mail while a queue still held mail is delayed, not proven lost
        value = "unknown"
        m = {**m, "reasons": list(m.get("reasons") or []) + [f"mail was still queued when the mailboxes were read "
                                                             f"({queued}): missing messages may yet be delivered"]}
    lost = holders_lost(cert, sc)
    if lost:
        nums[f"holders_lost{sfx}"] = num(", ".join(lost))
    # mail lost without a holder lost is a defect, never the disclosed limitation of a design
    # whose sheet says "No" data redundancy: it is recorded as data redundancy only where that
    # shows a violation of the claim, and always under the scenario's own claim (smtp by default)
    claimed = catalogue().get(cert.design, "data_redundancy").value
    if lost or (value == "No" and claimed != "No"):
        cert.claim("data_redundancy", value, checks=["messages"], numbers=nums, reasons=list(m.get("reasons") or []))
    if claim or (value == "No" and not lost):
        cert.claim(claim or "smtp", value, checks=["messages"], numbers=nums, reasons=m.get("reasons"))
    return m


def removals_hold(cert, sc, msgs: dict, claim: str, label: str = "") -> None:
    """Deleted mail stays deleted: no message that an acknowledged expunge or move removed is back
    on any data node read (the ``messages`` checker's ``resurrected``, from ``no_loss``). A
    resurrection is a violation whatever else was unknown; otherwise ``unknown`` when the checker
    could not decide (a node not read)."""
    back = {n: int(v.get("count", 0)) for n, v in (msgs.get("resurrected") or {}).items() if v.get("count")}
    removed = sum(1 for o in history_ops(test_events(cert, sc), REMOVALS) if o.type == "ok")
    sfx = f"_{label}" if label else ""
    reasons = [f"{c} deleted messages back on {n}" for n, c in sorted(back.items())]
    if back:
        value = "No"
    elif msgs.get("valid") == "unknown" or not removed:
        value = "unknown"
        reasons = ["no acknowledged removal to check" if not removed else "the mailboxes were not all read"]
    else:
        value = "Yes"
    cert.claim(claim, value, checks=["messages"], reasons=reasons,
               numbers={f"removed{sfx}": num(removed), f"back{sfx}": num(sum(back.values()), "", 0)})


# -- service continuity -----------------------------------------------------------------------------
def failover_gaps(cert, sc, bound: float, claims: str | tuple, label: str, protos=None,
                  sessions: bool = False) -> dict:
    """Longest gap a client saw per protocol through the endpoints, against ``bound``, and the
    availability floor (threshold ``failover_min_availability``; for a longer bound, one gap of that
    bound per window). ``sessions=True`` also holds the share of broken client sessions to
    ``broken_sessions_ratio`` — for claims of *no interruption*, where a session the server cut is
    an interruption; otherwise sessions are counted here and judged under ``users_unaware``.
    Recorded under ``claims`` (one claim id or several)."""
    opts = {"bound_s": bound, "protos": list(protos or endpoint_protos(sc.topo))}
    if not sessions:
        opts["max_broken_ratio"] = 1.0
    thr = cert.thresholds
    if bound > thr["no_interruption_s"]:
        # a claim that allows one gap of ``bound`` allows that much downtime once in the window, no more
        span = max(sc.window[1] - sc.window[0], bound)
        opts["min_availability"] = round(min(thr["failover_min_availability"], 1 - bound / span), 6)
    a = cert.check("availability", sc, **opts)
    nums, reasons = gaps(a, bound, label)
    for proto, d in sorted((a.get("protos") or {}).items()):
        nums[f"{proto}_failed_probes_{label}"] = num(d.get("failed"))
        av = (d.get("availability") or {})
        nums[f"{proto}_availability_{label}"] = num(av.get("value"), "", av.get("threshold"), ">=")
    if a["valid"] == "fail":  # the checker may fail on more than the gap (availability floor, sessions)
        reasons += [r for r in a.get("reasons") or [] if r not in reasons and "longest gap" not in r]
    value = "unknown" if a["valid"] == "unknown" and not reasons else verdict(not reasons)
    for claim in ((claims,) if isinstance(claims, str) else claims):
        cert.claim(claim, value, numbers=nums, reasons=reasons or ([] if value != "unknown" else a.get("reasons")),
                   checks=["availability"])
    return a


def node_loss(cert, sc, node: str, fault: str, avail: dict, bound: float,
              claims=("processing_redundancy",)) -> str:
    """Processing redundancy for the loss of one node: every service through the endpoints came back
    within ``bound`` (the 'stops responding for a period' bound), and every virtual IP the node held
    was taken over by a live node. Recorded under ``claims``; returns the value."""
    reasons, nums = [], {}
    for proto, d in sorted((avail.get("protos") or {}).items()):
        gap = (d.get("longest_gap") or {}).get("value")
        nums[f"{proto}_gap_{fault}_{node}"] = num(gap, "s", bound)
        if not within(gap, bound):
            reasons.append(f"{proto}: {gap} s without service after {fault} of {node} (bound {bound:.0f} s)")
    s = cert.check("split_brain", sc, vips=sc.topo.vips) if sc.topo.vips else None
    if s is not None:
        orphaned = []
        for vip, d in sorted((s.get("vips") or {}).items()):
            longest_none = d.get("longest_no_holder_s")
            nums[f"vip_{vip}_unheld_max_s_{node}"] = num(longest_none, "s", bound)
            if longest_none is not None and longest_none > bound:
                orphaned.append(f"{vip} had no live holder for {longest_none} s")
        reasons += orphaned
    unknown = avail.get("valid") == "unknown" or (s is not None and s.get("valid") == "unknown")
    value = "unknown" if unknown and not reasons else verdict(not reasons)
    for c in claims:
        cert.claim(c, value, numbers=nums, reasons=reasons or ([] if value != "unknown" else avail.get("reasons")),
                   checks=["availability", "split_brain"] if s is not None else ["availability"])
    return value


def single_holder(cert, sc, claim: str) -> dict:
    """At most one live holder of each virtual IP at any instant (VRRP handovers of a few
    milliseconds excepted, bounded per move by the split_brain checker)."""
    s = cert.check("split_brain", sc, vips=sc.topo.vips)
    split = [iv for v in (s.get("vips") or {}).values() for iv in v.get("split_intervals", [])]
    cert.claim(claim, from_check(s), checks=["split_brain"], numbers={
        "max_vip_holders": num(max([len(iv["holders"]) for iv in split] or [1]), "", 1),
        "split_brain_s": num(s.get("split_brain_s"), "s", 0),
        "longest_handover_s": num(s.get("longest_handover_s"), "s", s.get("handover_s"))},
        reasons=s.get("reasons"))
    return s


def replicas_converged(cert, sc, claim: str, after: str = "end", client_view: bool = True) -> dict:
    """The replicas' final state identical (UIDs, flags, UIDVALIDITY) and reached within the bound.
    ``client_view=False``: what clients saw meanwhile (a UID shown for two messages, a UIDVALIDITY
    change) is counted here and judged under ``users_unaware`` only — for a chaos run, where those
    anomalies are that claim's subject; a scripted scenario judges them here too."""
    # duplicates (Postfix delivers at least once) are counted under users_unaware, not here
    r = cert.check("replicas", sc, allow_duplicates=True, fail_on_client_view=client_view)
    c = cert.check("convergence", sc, bound_s=cert.thresholds["converge_s"])
    valids = (r["valid"], c["valid"])
    value = "No" if "fail" in valids else ("unknown" if "unknown" in valids else "Yes")
    cert.claim(claim, value, checks=["replicas", "convergence"], numbers={
        f"converge_s_{after}": num((c.get("max_s") or {}).get("value"), "s", cert.thresholds["converge_s"]),
        "uid_renumbered": num((r.get("totals") or {}).get("renumbered")),
        "replica_differences": num((r.get("totals") or {}).get("missing"), "", 0)},
        reasons=(r.get("reasons") or []) + (c.get("reasons") or []))
    return r


def _affected(result: dict, kinds) -> tuple[set, bool]:
    """Users affected by the given kinds in a checker result: (complete set, complete?). Complete
    lists (``users_affected``) are used; capped example lists are not a count."""
    full = result.get("users_affected")
    if isinstance(full, dict):
        return {u for k in kinds for u in full.get(k) or []}, True
    return set(), False


def users_unaware(cert, sc, msgs: dict, label: str, claim: str = "users_unaware") -> None:
    """'Most system users are unaware when a failover occurs', judged on what each threshold defines:

    - sessions (``sessions`` checker): of the long-lived client sessions (IMAP and webmail) open
      when a fault hit, the share it broke must stay within ``broken_sessions_ratio``;
    - users: of the workload users, the share who could notice anything — a session of theirs that
      broke, a duplicate, a deleted message back, a UID that now shows another message, a
      UIDVALIDITY change (full re-download) — must stay within ``aware_users_ratio``.

    ``unknown`` when an input is unknown (no session open at a fault, a mailbox checker could not
    decide or gave no complete list of affected users): never a pass by default."""
    thr = cert.thresholds
    ses = cert.check("sessions", sc, max_broken_ratio=thr["broken_sessions_ratio"])
    r = cert.check("replicas", sc, allow_duplicates=True, fail_on_client_view=False) \
        if placement(sc.topo)["require"] == "each" else {"valid": "pass", "users_affected": {}}
    everyone = set(sc.topo.users())
    mail_users, complete_m = _affected(msgs, ("duplicated", "resurrected"))
    mixed_users, complete_r = _affected(r, ("uid_reused", "uidvalidity_changed"))
    broke = set(ses.get("users_broken") or [])
    aware = (mail_users | mixed_users | broke) & everyone
    ratio = len(aware) / len(everyone) if everyone else None
    reasons, unknown = [], []
    if ses["valid"] == "fail":
        reasons += ses.get("reasons") or []
    elif ses["valid"] == "unknown":
        unknown += ses.get("reasons") or ["sessions: unknown"]
    if not (complete_m and complete_r) or ratio is None or "unknown" in (msgs.get("valid"), r.get("valid")):
        unknown.append("which users could notice is not known (a mailbox checker could not decide)")
    elif ratio > thr["aware_users_ratio"]:
        reasons.append(f"{len(aware)} of {len(everyone)} users could notice it ({len(broke & everyone)} had a session "
                       f"broken, {len(mail_users)} got a duplicate or a deleted message back, {len(mixed_users)} saw a "
                       f"UID change meaning or UIDVALIDITY change)")
    value = "No" if reasons else ("unknown" if unknown else "Yes")
    br = ses.get("broken_ratio") or {}
    cert.claim(claim, value, checks=["sessions", "replicas", "messages"], reasons=reasons or unknown, numbers={
        f"aware_users_{label}": num(len(aware)), f"aware_ratio_{label}": num(ratio, "", thr["aware_users_ratio"]),
        f"sessions_open_at_fault_{label}": num(ses.get("open")), f"sessions_broken_{label}": num(ses.get("broken")),
        f"sessions_broken_ratio_{label}": num(br.get("value"), "", thr["broken_sessions_ratio"]),
        f"duplicates_{label}": num((msgs.get("totals") or {}).get("duplicated")),
        f"uid_renumbered_{label}": num((r.get("totals") or {}).get("renumbered"))})


# -- load -------------------------------------------------------------------------------------------
def load_by_node(cert, sc, claim: str = "load_sharing", f=("send", "read", "pop-read", "webmail-list", "session")) -> dict:
    """Shares of the workload's sessions per node and protocol (the ``load`` checker's measured
    value: Yes when every protocol spreads within the band, Some when only some do)."""
    load = cert.check("load", sc, f=f, nodes=sc.topo.node_names, expect=None)
    shares = {f"{p}_share_{n}": num(v["share"]) for p, d in (load.get("protos") or {}).items()
              for n, v in (d.get("nodes") or {}).items()}
    spread = [p for p, d in (load.get("protos") or {}).items() if d.get("spread")]
    cert.claim(claim, load.get("measured", "unknown"), numbers=shares, checks=["load"],
               reasons=[f"spread over several nodes: {', '.join(spread) or 'none'}"])
    return load


def tiers(topo) -> dict[str, list[str]]:
    """Tier -> its nodes, from the topology: each node's ``tier`` (e.g. ``front`` proxies, ``lb``,
    ``filter``), data nodes as ``store``. Nodes of no tier are left out."""
    out: dict[str, list[str]] = {}
    for name, n in topo.nodes.items():
        t = n.meta.get("tier") or ("store" if n.data else None)
        if t:
            out.setdefault(t, []).append(name)
    return out


def load_by_tier(cert, sc, *, after: float | None = None, label: str = "", claim: str = "load_sharing",
                 only=None) -> dict:
    """Shares of successful client operations per node of each tier, each held against
    fair × (1 ± ``load_share_band``). Who served an operation: the node that answered (front
    tiers), or — for a store tier whose nodes each hold only some users — the store holding the
    operation's user. Yes when every tier spreads within the band, Some when only some do, No when
    none does; unknown below ``min_ok_ops`` operations in a tier."""
    band = cert.thresholds["load_share_band"]
    ops = [o for o in test_ops(cert, sc) if o.type == "ok" and (after is None or o.start >= after)
           and o.f in ("send", "read", "flag", "expunge", "move", "pop-read", "pop-delete", "webmail-list",
                       "session", "probe")]
    owner = {u: ns[0] for u in sc.topo.users() if len(ns := sc.topo.holder_of(u)) == 1}
    out, nums, reasons = {}, {}, []
    for tier, names in sorted(tiers(sc.topo).items()):
        if only and tier not in only:
            continue
        # a tier of stores that each hold only some users: an operation counts for its user's store
        by_owner = bool(owner) and set(names) <= {n.name for n in sc.topo.data_nodes()}

        def who(o):
            if by_owner:
                v = o.invoke.value or {}
                u = v.get("user") or v.get("to")
                return owner.get(u.lower()) if isinstance(u, str) else None
            return o.node if o.node in names else None
        counts: dict[str, int] = {}
        for o in ops:
            n = who(o)
            if n in names:
                counts[n] = counts.get(n, 0) + 1
        total = sum(counts.values())
        fair = 1 / len(names)
        shares = {n: (counts.get(n, 0) / total if total else 0.0) for n in names}
        spread = total >= cert.min_ok and len(names) >= 2 and all(
            fair * (1 - band) <= x <= fair * (1 + band) for x in shares.values())
        out[tier] = {"total": total, "shares": shares, "spread": spread}
        for n, x in shares.items():
            nums[f"{tier}_share_{n}{label}"] = num(x)
        nums[f"{tier}_share_deviation_max{label}"] = num(max(abs(x - fair) / fair for x in shares.values()), "", band)
        if not spread:
            reasons.append(f"{tier}: {total} sessions, shares " + ", ".join(f"{n} {x:.2f}" for n, x in shares.items())
                           + f" (fair {fair:.2f} ± {band:.0%})")
    judged = [t for t in out.values() if len(out) and t["total"] >= cert.min_ok]
    if len(judged) < len(out) or not out:
        value = "unknown"
    else:
        value = "Yes" if all(t["spread"] for t in judged) else "Some" if any(t["spread"] for t in judged) else "No"
    cert.claim(claim, value, numbers=nums, reasons=reasons, checks=["load"])
    return out


# -- an uptime claim -------------------------------------------------------------------------------
def uptime_projection(cert, sc, claim: str = "uptime_999") -> dict:
    """An uptime claim (e.g. "99.9 %") from the scenario's faults (the ``uptime`` checker defines
    it): each fault window's cost to every protocol's clients (the longest gap around it, worst
    over the trials of its tier), times the design's stated failures per window
    (``x-mailha.uptime.failures_per_window``, per tier; ``window_days``), against the downtime
    the target allows (threshold ``availability``). The verdict is the projection; the run's own
    availability is recorded beside it, unbounded. Data loss is in no budget (``no_loss``)."""
    spec = sc.topo.meta.get("uptime") or {}
    rates = {str(k): float(v) for k, v in (spec.get("failures_per_window") or {}).items()}
    if not rates:
        raise ValueError(f"design {sc.topo.design!r} has no x-mailha.uptime.failures_per_window: "
                         "an uptime projection needs the failure rate of each tier.")
    days = float(spec.get("window_days") or 30)
    tier_of = {n: t for t, names in tiers(sc.topo).items() for n in names}
    target = cert.thresholds["availability"]
    u = cert.check("uptime", sc, tier_of=tier_of, rates=rates, target=target, window_days=days,
                   bound_s=cert.thresholds["stops_responding_s"], protos=endpoint_protos(sc.topo),
                   grace_s=cert.thresholds["stops_responding_s"])
    nums = {"uptime_budget": num(u["budget_s"], "s"), "uptime_window_days": num(days, "days")}
    for proto, d in sorted((u.get("protos") or {}).items()):
        nums[f"{proto}_projected_downtime_{days:g}d"] = num(d["projected_downtime_s"], "s", u["budget_s"])
        nums[f"{proto}_projected_availability"] = num(d["projected_availability"], "", target, ">=")
        nums[f"{proto}_availability_run"] = num(d["run_availability"])
        for tier, t in sorted(d["terms"].items()):
            nums[f"{proto}_cost_{tier}"] = num(t["cost_s"], "s")
    for tier, rate in sorted(rates.items()):
        nums[f"failures_per_{days:g}d_{tier}"] = num(rate)
    value = {"pass": "Yes", "fail": "No"}.get(u["valid"], "unknown")
    cert.claim(claim, value, numbers=nums, reasons=u.get("reasons"), checks=["uptime"])
    return u


# -- a chaos run ------------------------------------------------------------------------------------
#: judgement name -> what it does under a chaos run; a design lists the ones that fit it, with the
#: claim each one evidences, in ``x-mailha.chaos.claims`` (docs/adding-a-design.md)
def _chaos_no_loss(cert, sc, claim, ctx):
    ctx["messages"] = no_loss(cert, sc, claim=claim, label="chaos", prefix=f"mh-{sc.tag}-")


def _chaos_availability(cert, sc, claim, ctx):
    a = ctx["availability"] = failover_gaps(cert, sc, cert.thresholds["no_interruption_s"], claim, "chaos",
                                            sessions=True)
    # the fault rate the run's availability was measured under (beside it in the report)
    applied = [w for w in iter_fault_windows(test_events(cert, sc)) if w["applied"]]
    span_h = max(sc.window[1] - sc.window[0], 1e-9) / 3600
    cert.claim(claim, cert.outcome.results[claim].measured, checks=["availability"], numbers={
        "faults_applied_chaos": num(len(applied)), "faults_per_hour_chaos": num(round(len(applied) / span_h, 1), "/h")})
    return a


def _chaos_uptime(cert, sc, claim, ctx):
    if sc.topo.meta.get("uptime"):  # the design states failure rates: the verdict is the projection
        ctx["uptime"] = uptime_projection(cert, sc, claim)
        return
    a = ctx.get("availability") or cert.check("availability", sc, bound_s=cert.thresholds["no_interruption_s"],
                                              protos=endpoint_protos(sc.topo))
    nums, reasons = {}, []
    for proto, d in sorted((a.get("protos") or {}).items()):
        av = (d.get("availability") or {}).get("value")
        nums[f"{proto}_availability_chaos"] = num(av, "", cert.thresholds["availability"], ">=")
        if av is not None and av < cert.thresholds["availability"]:
            reasons.append(f"{proto}: availability {av:.4f} < {cert.thresholds['availability']}")
    cert.claim(claim, "unknown" if a["valid"] == "unknown" and not reasons else verdict(not reasons),
               numbers=nums, reasons=reasons, checks=["availability"])


def _chaos_single_holder(cert, sc, claim, ctx):
    if sc.topo.vips:
        single_holder(cert, sc, claim)


def _chaos_replicas(cert, sc, claim, ctx):
    if len(sc.topo.data_nodes()) >= 2 and placement(sc.topo)["require"] == "each":
        replicas_converged(cert, sc, claim, after="chaos", client_view=False)


def _chaos_users_unaware(cert, sc, claim, ctx):
    m = ctx.get("messages") or cert.check("messages", sc, **placement(sc.topo), allow_duplicates=True,
                                          fail_on_resurrected=False, prefix=f"mh-{sc.tag}-")
    users_unaware(cert, sc, m, "chaos", claim=claim)


CHAOS = {
    "no_loss": _chaos_no_loss,
    "availability": _chaos_availability,
    "uptime": _chaos_uptime,
    "single_holder": _chaos_single_holder,
    "replicas": _chaos_replicas,
    "users_unaware": _chaos_users_unaware,
}

#: what a design without an ``x-mailha.chaos.claims`` block is judged on (claims every design has)
CHAOS_DEFAULT = {"no_loss": "smtp", "availability": None}


def chaos_rules(topo) -> dict:
    """judgement -> claim for a chaos run of this design (``x-mailha.chaos.claims``), checked
    against the judgements that exist and the design's claims."""
    rules = ((topo.meta.get("chaos") or {}).get("claims")) or CHAOS_DEFAULT
    cat = catalogue()
    out = {}
    for name, claim in rules.items():
        if name not in CHAOS:
            raise ValueError(f"x-mailha.chaos.claims names unknown judgement {name!r}; known: {', '.join(CHAOS)}")
        if claim is not None:
            cat.get(topo.design, claim)  # raises with the known claims
        out[name] = claim
    return out


def under_chaos(cert, sc) -> dict:
    """Every judgement the design declares for a chaos run, over the whole run; then the faults
    checker (a fault not applied or not healed fails the run). Returns the checker results."""
    ctx: dict = {"faults": cert.check("faults", sc)}
    for name, claim in chaos_rules(sc.topo).items():
        if claim is None:
            continue
        CHAOS[name](cert, sc, claim, ctx)
    return ctx


def test_ops(cert, sc, f=None) -> list:
    """This test's paired operations inside the scenario's window."""
    return history_ops(test_events(cert, sc), f)


# -- webmail in a real browser ----------------------------------------------------------------------
#: how long the message sent for the browser journey may take to be delivered (as ``e2e.roundtrip``)
BROWSER_DELIVER_S = 15.0
#: the browser journey's budget, the browser's start included (harness/clients/browser_webmail.py)
BROWSER_JOURNEY_S = 30.0


def webmail_in_browser(cert, sc, *, screenshot=None, deliver_s: float = BROWSER_DELIVER_S,
                       timeout_s: float = BROWSER_JOURNEY_S) -> dict:
    """Webmail row in a real browser: one message sent with SMTP through the design's SMTP
    endpoint to one user (of the first store, ``e2e_users``) is delivered — read back over the IMAP
    endpoint (webmail's HTTP list when the design has none) within ``deliver_s`` — and then
    headless Chromium, through the design's http endpoint, logs in, sees it in the inbox list and
    opens it, its body shown (``browser_webmail.webmail_journey``).

    ``webmail`` is recorded Yes when every step of the journey completed; No, with the sentence
    naming the step that failed, when one did not; unknown when the message was not accepted or
    not delivered in time (the browser was then not tried: it would say nothing about webmail).
    Numbers: each step's seconds (``browser_login_s``, ``browser_inbox_s``, ``browser_open_s``), the
    browser's start, the delivery wait, the requests refused (to hosts other than the webmail's)
    and the screenshot's path in the run directory (default ``screenshots/webmail-<design>.png``).
    The journey is one ``browser-journey`` operation in the history (proc ``browser-webmail``;
    its node: the webmail server that served the last page). Returns the journey's answer ({}
    when not tried). Raises RuntimeError when there is no browser."""
    import time
    from pathlib import Path

    from .clients import identify
    from .clients.browser_webmail import webmail_journey
    from .clients.smtp import SmtpClient

    topo = sc.topo
    user = e2e_users(topo)[0]
    pw = topo.users()[user]
    token = f"mh-{sc.tag}-browser"
    run_dir = Path(cert.s.run.path)
    shot = Path(screenshot) if screenshot else run_dir / "screenshots" / (
        f"webmail-{cert.design}" + (f"-{cert.variant}" if cert.variant else "") + ".png")
    host, port = topo.endpoint("smtp")
    if SmtpClient(cert.h, "browser-smtp", topo.node_names, 10).send(host, port, token, user) != "ok":
        cert.claim("webmail", "unknown", reasons=[f"browser: not tried (the message to {user} was not accepted "
                                                  f"by SMTP at {host}:{port})"])
        return {}
    t = time.monotonic()
    late = _not_delivered(cert, topo, user, pw, token, deliver_s)
    if late:
        cert.claim("webmail", "unknown", reasons=[f"browser: not tried ({late})"])
        return {}
    delivered_s = time.monotonic() - t
    wh, wp = topo.endpoint("http")
    cert.h.invoke("browser-webmail", "browser-journey", {"user": user, "token": token, "via": f"{wh}:{wp}"})
    j = webmail_journey(f"http://{wh}:{wp}/", user, pw, token, screenshot=shot, timeout_s=timeout_s)
    served = j["seen"].get("served_by") or []
    node = (identify(served[-1], topo.node_names) or served[-1]) if served else None
    done = {"user": user, "token": token, "served_by": served, "screenshot": j["screenshot"],
            **{k: j[k] for k in ("launch_s", "login_s", "inbox_s", "open_s", "total_s", "failed_step")}}
    if j["ok"]:
        cert.h.ok("browser-webmail", "browser-journey", done, node=node)
    else:
        cert.h.fail("browser-webmail", "browser-journey", done, node=node, error=j["error"])
    nums = {f"browser_{s}_s": num(j[f"{s}_s"], "s") for s in ("login", "inbox", "open")}
    nums["browser_start_s"] = num(j["launch_s"], "s")
    nums["browser_delivered_s"] = num(delivered_s, "s")
    nums["browser_blocked_requests"] = num(len(j["blocked"]))
    if j["screenshot"]:
        p = Path(j["screenshot"])
        nums["browser_screenshot"] = num(str(p.relative_to(run_dir)) if p.is_relative_to(run_dir) else str(p))
    cert.claim("webmail", verdict(j["ok"]), checks=[], numbers=nums, reasons=[] if j["ok"] else [j["error"]])
    return j


def _not_delivered(cert, topo, user: str, password: str, token: str, within_s: float) -> str | None:
    """Why ``token`` did not reach ``user``'s inbox within ``within_s`` seconds, read over the
    design's IMAP endpoint (webmail's HTTP list when it has none); None once it is there."""
    from .clients.imap import ImapClient
    from .clients.webmail import WebmailClient
    from .e2e import wait_visible

    if topo.has_endpoint("imap"):
        host, port = topo.endpoint("imap")
        imap = ImapClient(cert.h, "browser-wait", topo.node_names, 10)
        read, how = (lambda: imap.read(host, port, user, password)), "IMAP"
        there = (lambda r: any(m["token"] == token for m in r["messages"]))
    else:
        host, port = topo.endpoint("http")
        web = WebmailClient(cert.h, "browser-wait", topo.node_names, 10)
        read, how = (lambda: web.list(f"http://{host}:{port}", user, password)), "webmail's HTTP list"
        there = (lambda r: token in r["tokens"])
    seen, _, last = wait_visible(read, there, f"{token} to be delivered", within_s)
    if not seen:
        return f"{token} for {user} not delivered: {how} did not show it within {within_s:.0f} s, last: {last}"
    return None
