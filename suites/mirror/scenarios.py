"""Design I's certification scenarios, one per claim family. Each runs against whatever mirror
it is given — the reference cluster or a broken variant — and returns the claims it measured.

The tests in this folder call them on the reference cluster and require every claim to hold;
test_variants.py calls them on broken variants and requires the right claim to fail.
"""
from __future__ import annotations

import random
import re
import time

from harness import e2e, observers
from harness.certification import Certifier, from_check, gaps, num, users_noticing, verdict, within
from harness.clients.imap import ImapClient
from harness.clients.smtp import SmtpClient
from harness.observers import LagProbe
from harness.history import ops as history_ops
from harness.workload import Mix


# -- shared judgements -------------------------------------------------------------------------
def protocols_work(cert: Certifier, sc, label: str) -> dict:
    """SMTP/POP/IMAP/Webmail claims from an end-to-end round trip through the endpoints."""
    res = e2e.roundtrip(sc.topo, cert.h, f"mh-{sc.tag}-e2e{re.sub('[^a-z0-9]', '', label)}")
    for proto, claim in e2e.PROTO_CLAIM.items():
        r = res.get(proto)
        if r is None:
            cert.claim(claim, "unknown", reasons=[f"{proto}: not tried ({'SMTP failed' if proto != 'smtp' else 'no endpoint'})"])
            continue
        cert.claim(claim, verdict(r["ok"]), numbers={f"{proto}_roundtrip_{label}": num(r["seconds"], "s")},
                   reasons=[] if r["ok"] else [f"{proto} {label}: {r['error']}"], checks=["e2e"])
    return res


def no_loss(cert: Certifier, sc, **options) -> dict:
    """Every acknowledged message on every replica and nothing unexpected. Duplicates (Postfix
    delivers at least once: a crash between LMTP's answer and the queue update redelivers) are
    counted honestly but judged under users_unaware, not as data loss."""
    options.setdefault("allow_duplicates", True)
    # a deleted message that comes back (dsync merging after a partition) is no data loss: its
    # user notices, so it counts under users_unaware; here it is a number
    options.setdefault("fail_on_resurrected", False)
    m = cert.check("messages", sc, **options)
    t = m.get("totals", {})
    resurrected = sum(x.get("count", 0) for x in (m.get("resurrected") or {}).values())
    cert.claim("data_redundancy", from_check(m), checks=["messages"], numbers={
        "acked": num(t.get("acked")), "lost": num(t.get("lost"), "", 0), "duplicated": num(t.get("duplicated")),
        "resurrected": num(resurrected)}, reasons=m.get("reasons"))
    return m


def failover_gaps(cert: Certifier, sc, bound: float, claim: str, label: str) -> dict:
    """Longest gap a client saw per protocol through the VIP, against ``bound``."""
    a = cert.check("availability", sc, bound_s=bound)
    nums, reasons = gaps(a, bound, label)
    for proto, d in sorted(a.get("protos", {}).items()):
        nums[f"{proto}_failed_probes_{label}"] = num(d.get("failed"))
    value = "unknown" if a["valid"] == "unknown" else ("Yes" if not reasons else "No")
    cert.claim(claim, value, numbers=nums, reasons=reasons or ([] if value != "unknown" else a.get("reasons")),
               checks=["availability"])
    return a


def single_holder(cert: Certifier, sc, claim: str) -> dict:
    s = cert.check("split_brain", sc)
    split = [iv for v in (s.get("vips") or {}).values() for iv in v.get("split_intervals", [])]
    cert.claim(claim, from_check(s), checks=["split_brain"], numbers={
        "max_vip_holders": num(max([len(iv["holders"]) for iv in split] or [1]), "", 1),
        "split_brain_s": num(s.get("split_brain_s"), "s", 0),
        "longest_handover_s": num(s.get("longest_handover_s"), "s", s.get("handover_s"))},
        reasons=s.get("reasons"))
    return s


def replicas_converged(cert: Certifier, sc, claim: str, after: str = "end") -> dict:
    # duplicates (Postfix delivers at least once) are counted under users_unaware, not here
    r = cert.check("replicas", sc, allow_duplicates=True)
    c = cert.check("convergence", sc, bound_s=cert.thresholds["converge_s"])
    ok = r["valid"] == "pass" and c["valid"] == "pass"
    cert.claim(claim, "unknown" if "unknown" in (r["valid"], c["valid"]) and not ok and "fail" not in (r["valid"], c["valid"])
               else verdict(ok), checks=["replicas", "convergence"], numbers={
                   f"converge_s_{after}": num((c.get("max_s") or {}).get("value"), "s", cert.thresholds["converge_s"]),
                   "uid_renumbered": num((r.get("totals") or {}).get("renumbered")),
                   "replica_differences": num((r.get("totals") or {}).get("missing"), "", 0)},
               reasons=(r.get("reasons") or []) + (c.get("reasons") or []))
    return r


# -- scenarios -----------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 8.0):
    """Steady mixed workload: every protocol works; mail lands on both replicas; load is shared
    only for SMTP (two MX addresses), the rest goes to the one active server ("Some")."""
    with cert.scenario() as sc:
        sc.steady(seconds)
    protocols_work(cert, sc, "steady")
    no_loss(cert, sc)
    # workload sessions only: probes all target the VIP by construction
    load = cert.check("load", sc, f=("send", "read", "pop-read", "webmail-list", "session"),
                      nodes=sc.topo.node_names, expect=None)
    shares = {f"{p}_share_{n}": num(v["share"]) for p, d in load.get("protos", {}).items()
              for n, v in d.get("nodes", {}).items()}
    cert.claim("load_sharing", load.get("measured", "unknown"), numbers=shares, checks=["load"],
               reasons=[f"spread over several nodes: {', '.join(p for p, d in load.get('protos', {}).items() if d.get('spread'))}"])
    return cert.finish()


def read_either(cert: Certifier, samples: int = 15):
    """Mail, flags, moves and expunges made on either node are readable on the other; lag."""
    topo = None
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        a, b = topo.node_names[:2]
        users = topo.users()
        user = sorted(users)[1]
        pw = users[user]
        smtp = SmtpClient(cert.h, "either-smtp", topo.node_names, 10)
        toks = {a: [f"mh-{sc.tag}-{a[-1]}{i}" for i in range(3)], b: [f"mh-{sc.tag}-{b[-1]}{i}" for i in range(3)]}
        # one side at a time: a sync started by B's own deliveries would also carry A's mail to B
        wait = min(cert.thresholds["converge_s"], 15.0)
        reasons = []
        for src, dst in ((a, b), (b, a)):
            for t in toks[src]:
                smtp.send(topo.nodes[src].lan, 25, t, user)
            missing = _wait_visible(cert, topo, user, pw, toks[src], timeout=wait)
            for node, miss in missing.items():
                if miss:
                    reasons.append(f"{len(miss)} of {len(toks[src])} messages sent to {src} not on {node} after {wait:.0f} s")
        imap = ImapClient(cert.h, "either-imap", topo.node_names, 10)
        # a flag set on A, a move made on B, an expunge made on A: each must show on the other node
        imap.flag(topo.nodes[a].lan, 143, user, pw, toks[b][0], "\\Flagged")
        imap.move(topo.nodes[b].lan, 143, user, pw, [toks[a][0]], "Archive")
        imap.expunge(topo.nodes[a].lan, 143, user, pw, [toks[b][1]])
        reasons += _wait_changes(cert, topo, user, pw, flagged=toks[b][0], moved=toks[a][0], expunged=toks[b][1],
                                 timeout=wait)
        if not reasons:  # lag of a replication that does not work would only measure timeouts
            lag = LagProbe(topo, cert.h, user, pw, random.Random(cert.s.seed), sc.tag)
            for i in range(samples):
                lag.sample(a, b) if i % 2 == 0 else lag.sample(b, a)
    lg = cert.check("lag", sc, p99_bound_s=cert.thresholds["lag_p99_s"])
    nums = {"lag_p50": num(lg.get("p50"), "s"), "lag_p99": num(lg.get("p99"), "s", cert.thresholds["lag_p99_s"]),
            "lag_max": num(lg.get("max"), "s")}
    if lg["valid"] == "fail":
        reasons += lg.get("reasons") or []
    value = "unknown" if lg["valid"] == "unknown" and not reasons else verdict(not reasons)
    cert.claim("read_either", value, numbers=nums, reasons=reasons, checks=["lag"])
    no_loss(cert, sc)
    replicas_converged(cert, sc, "read_either")
    return cert.finish()


def _wait_visible(cert, topo, user, pw, tokens, timeout) -> dict[str, list]:
    """Wait until every token is in the user's INBOX on every data node; what is still missing."""
    t0 = time.monotonic()
    missing = {}
    while True:
        missing = {}
        for n in topo.data_nodes():
            try:
                have = {m["token"] for m in observers.read_replica(topo, n.name, {user: pw})[user]["INBOX"]["messages"]}
            except Exception:
                have = set()
            missing[n.name] = [t for t in tokens if t not in have]
        if not any(missing.values()) or time.monotonic() - t0 > timeout:
            return missing
        time.sleep(0.2)


def _wait_changes(cert, topo, user, pw, *, flagged, moved, expunged, timeout) -> list[str]:
    t0 = time.monotonic()
    problems = []
    while True:
        problems = []
        for n in topo.data_nodes():
            try:
                boxes = observers.read_replica(topo, n.name, {user: pw})[user]
            except Exception as e:
                problems.append(f"{n.name}: read failed ({e})")
                continue
            inbox = {m["token"]: m for m in boxes.get("INBOX", {}).get("messages", [])}
            archive = {m["token"] for m in boxes.get("Archive", {}).get("messages", [])}
            if "\\Flagged" not in (inbox.get(flagged) or {}).get("flags", []):
                problems.append(f"{n.name}: flag set on the other node not visible")
            if moved in inbox or moved not in archive:
                problems.append(f"{n.name}: move made on the other node not visible")
            if expunged in inbox:
                problems.append(f"{n.name}: expunge made on the other node not visible")
        if not problems or time.monotonic() - t0 > timeout:
            return problems
        time.sleep(0.2)


def failover(cert: Certifier, fault: str, hold: float = 8.0):
    """The active server fails (``kill``/``stop``/``pause``): clients fail over to the other through
    the VIP within the no-interruption bound, lose no mail, and reconnect to the same mailbox state."""
    bound = cert.thresholds["no_interruption_s"]
    with cert.scenario() as sc:
        sc.steady(4)
        with sc.fault(fault, "vip-holder"):
            sc.wait(hold)
        sc.steady(8)  # the recovered node resyncs, then takes its VIP back (failback is measured too)
    cert.faults_applied(sc)
    a = failover_gaps(cert, sc, bound, "failover_no_interruption", fault)
    m = no_loss(cert, sc)
    if m["valid"] == "fail":
        cert.claim("failover_no_interruption", "No", reasons=["acknowledged mail lost across the failover"])
    # no single point of failure / processing redundancy: every service came back on the survivor
    served = {p: d.get("answered_by", {}) for p, d in a.get("protos", {}).items()}
    survivors_served = all(len([n for n, c in by.items() if c]) >= 2 for by in served.values()) if served else False
    gaps_ok = all(within((d.get("longest_gap") or {}).get("value"), cert.thresholds["stops_responding_s"])
                  for d in a.get("protos", {}).values())
    value = "unknown" if a["valid"] == "unknown" else verdict(survivors_served and gaps_ok)
    for claim in ("no_spof", "processing_redundancy"):
        cert.claim(claim, value, checks=["availability"], numbers={"served_by": num(
            ", ".join(f"{p}: {'/'.join(sorted(n for n, c in by.items() if c))}" for p, by in sorted(served.items())))},
            reasons=[] if value == "Yes" else [f"after {fault} of the active server not every service came back "
                                               f"on the other within {cert.thresholds['stops_responding_s']} s"])
    users_unaware(cert, sc, a, m, fault)
    single_holder(cert, sc, "single_active")
    replicas_converged(cert, sc, "data_redundancy")
    protocols_work(cert, sc, f"after-{fault}")
    return cert.finish()


def users_unaware(cert: Certifier, sc, avail: dict, msgs: dict, label: str) -> None:
    """'Most system users are unaware when a failover occurs': the share of users who could notice
    anything — a duplicate in their mailbox or a deleted message back, a webmail session that had to
    log in again, a UID that now shows another message, a UIDVALIDITY change (full re-download) —
    must stay below the bound.
    IMAP clients reconnect by themselves and renumbered messages are re-fetched silently: counted,
    not judged."""
    r = cert.check("replicas", sc)
    ev = [e for e in cert.h.snapshot() if e.test == cert.nodeid and sc.window[0] <= e.t <= sc.window[1]]
    dup_users, mixed_users = users_noticing(ev, msgs, r)
    web_users = {(o.invoke.value or {}).get("user") for o in history_ops(ev, "session")
                 if o.type == "fail" and (o.invoke.value or {}).get("proto") == "http"} - {None}
    everyone = set(sc.topo.users())
    aware = (dup_users | web_users | mixed_users) & everyone | (web_users - everyone)
    ratio = len(aware) / len(everyone) if everyone else None
    bound = cert.thresholds["broken_sessions_ratio"]
    sessions = {p: d.get("sessions") or {} for p, d in avail.get("protos", {}).items()}
    reasons = [] if ratio is not None and ratio <= bound else [
        f"{len(aware)} of {len(everyone)} users could notice the failover "
        f"({len(dup_users)} got a duplicate or a deleted message back, {len(web_users)} had to log in to webmail again, "
        f"{len(mixed_users)} saw a UID change meaning)"]
    cert.claim("users_unaware", "unknown" if ratio is None else verdict(not reasons), checks=["replicas", "messages"],
               reasons=reasons, numbers={
                   f"aware_users_{label}": num(len(aware)), f"aware_ratio_{label}": num(ratio, "", bound),
                   f"duplicates_{label}": num((msgs.get("totals") or {}).get("duplicated")),
                   f"imap_sessions_broken_{label}": num(sessions.get("imap", {}).get("broken")),
                   f"webmail_relogins_{label}": num(sessions.get("http", {}).get("broken")),
                   f"uid_renumbered_{label}": num((r.get("totals") or {}).get("renumbered"))})


DAEMON_PROTOS = {"dovecot": ["imap", "pop3"], "postfix": ["smtp"]}


def daemon_dies(cert: Certifier, daemon: str = "dovecot", hold: float = 8.0):
    """Only one daemon (Dovecot or Postfix) dies on the active server, the machine stays up: for
    the protocols it serves the server "stops responding", so clients must be moved to the other
    server within the 'for a period' bound."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario() as sc:
        sc.steady(3)
        with sc.fault("daemon-kill", "vip-holder", daemon=daemon):
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    a = cert.check("availability", sc, bound_s=bound, protos=DAEMON_PROTOS[daemon])
    nums, reasons = gaps(a, bound, f"{daemon}_dies", f"without service while {daemon} was dead on the active server")
    value = "unknown" if a["valid"] == "unknown" else verdict(not reasons)
    for claim in ("single_active", "no_spof"):
        cert.claim(claim, value, numbers=nums, reasons=reasons, checks=["availability"])
    no_loss(cert, sc)
    protocols_work(cert, sc, f"after-{daemon}-dies")
    return cert.finish()


def crossover_cut(cert: Certifier, hold: float = 10.0):
    """The crossover cable is cut while mail arrives on both MX addresses: exactly one server stays
    active (the watchdog must not mistake a cut cable for a dead peer), and once the cable is back
    the replicas converge — also where both sides changed the same mailboxes."""
    with cert.scenario(mix=Mix(send_rate=6.0)) as sc:
        sc.steady(3)
        with sc.fault("partition", "crossover"):
            sc.wait(hold)
        sc.steady(4)
    cert.faults_applied(sc)
    s = single_holder(cert, sc, "watchdog")
    single_holder(cert, sc, "single_active")
    r = replicas_converged(cert, sc, "read_either")
    cert.claim("watchdog", from_check(r) if s["valid"] == "pass" else "No",
               reasons=[] if r["valid"] == "pass" else ["replicas not identical after the cable came back"],
               numbers={"uid_renumbered_after_cut": num((r.get("totals") or {}).get("renumbered"))})
    no_loss(cert, sc)
    return cert.finish()


def isolate(cert: Certifier, hold: float = 8.0):
    """The active server loses its LAN cable (the crossover stays): clients move to the other server."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario() as sc:
        sc.steady(3)
        with sc.fault("isolate", "vip-holder"):
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    failover_gaps(cert, sc, bound, "no_spof", "isolate")
    single_holder(cert, sc, "single_active")
    no_loss(cert, sc)
    return cert.finish()


def maintenance_resync(cert: Certifier, outage: float = 60.0):
    """A server is down for maintenance while mail keeps arriving; when it comes back it must
    auto-resync: both replicas identical within the resync bound, without anyone's help."""
    bound = cert.thresholds["resync_s"]
    with cert.scenario() as sc:
        sc.steady(2)
        target = sc.nemesis.resolve("not-vip-holder")
        fid = sc.apply("stop", target)
        sc.wait(outage)
        sc.workload.stop()  # quiet, so that "identical" has a moment to be true
        sc.heal(fid)
        res = observers.wait_converged(sc.topo, cert.h, after=fid, deadline_s=max(bound * 3, 30), progress=cert.s.progress)
    cert.faults_applied(sc)
    secs = res["seconds"]
    cert.claim("auto_resync", verdict(res["identical"] and secs <= bound), checks=["convergence"],
               numbers={f"resync_s_after_{outage:.0f}s_outage": num(secs, "s", bound)},
               reasons=[] if res["identical"] and secs <= bound else [
                   f"replicas identical only after {secs:.1f} s" if res["identical"] else
                   f"replicas still different after {secs:.0f} s: {res.get('differences', [])[:3]}"])
    no_loss(cert, sc)
    return cert.finish()


def wipe(cert: Certifier, which: str = "not-vip-holder", rpo: float | None = None):
    """A server and its disk are lost; it is rebuilt empty and refilled from its peer. For the
    active server, mail acknowledged within the recovery point before the loss may go with it."""
    with cert.scenario() as sc:
        sc.steady(3)
        loss_at = cert.h.now()
        with sc.fault("wipe", which):
            sc.wait(6)
        sc.steady(6)
    cert.faults_applied(sc)
    # judged: loss beyond the recovery point; duplicates and deleted-but-back count elsewhere
    opts = {"loss_at": loss_at, "rpo_s": rpo} if rpo is not None else {}
    m = cert.check("messages", sc, allow_duplicates=True, fail_on_resurrected=False, **opts)
    exposed = (m.get("exposed") or {}).get("count", 0)
    cert.claim("data_redundancy", from_check(m), checks=["messages"], reasons=m.get("reasons"), numbers={
        f"lost_after_wipe_{which}": num((m.get("totals") or {}).get("lost"), "", 0),
        **({f"exposed_within_rpo_{which}": num(exposed, "", None)} if rpo is not None else {}),
        **({"rpo_s": num(rpo, "s")} if rpo is not None else {})})
    replicas_converged(cert, sc, "data_redundancy", after=f"wipe-{which}")
    return cert.finish()


def link_fault(cert: Certifier, fault: str, hold: float = 10.0, **params):
    """The replication link is slowed or held: mail keeps flowing, nothing is lost, and the
    replicas converge once the link is healthy again."""
    with cert.scenario() as sc:
        sc.steady(2)
        with sc.fault(fault, "crossover", **params):
            sc.wait(hold)
        sc.steady(4)
    cert.faults_applied(sc)
    replicas_converged(cert, sc, "read_either", after=fault)
    no_loss(cert, sc)
    return cert.finish()


def deferred_not_bounced(cert: Certifier, hold: float = 6.0, count: int = 5):
    """Mail sent straight to a server whose Dovecot is down is accepted and deferred — then
    delivered when Dovecot is back — never bounced."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        target = sc.nemesis.resolve("not-vip-holder")
        users = sorted(topo.users())
        smtp = SmtpClient(cert.h, "direct-smtp", topo.node_names, 10)
        with sc.fault("daemon-kill", target, daemon="dovecot"):
            for i in range(count):
                smtp.send(topo.nodes[target].lan, 25, f"mh-{sc.tag}-d{i}", users[i % len(users)])
            sc.wait(hold)
    cert.faults_applied(sc)
    m = no_loss(cert, sc)
    cert.claim("smtp", from_check(m), checks=["messages"], reasons=m.get("reasons"),
               numbers={"accepted_while_delivery_down": num((m.get("sends") or {}).get("ok"))})
    return cert.finish()
