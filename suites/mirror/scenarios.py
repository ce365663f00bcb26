"""Design I's certification scenarios, one per claim family. Each runs against whatever mirror
it is given — the reference cluster or a broken variant — and returns the claims it measured.

The tests in this folder call them on the reference cluster and require every claim to hold;
test_variants.py calls them on broken variants and requires the right claim to fail.
"""
from __future__ import annotations

import random
from contextlib import ExitStack

from harness import docker, observers
from harness.certification import Certifier, from_check, num, verdict
from harness.clients.imap import ImapClient
from harness.clients.smtp import SmtpClient
from harness.judgements import (failover_gaps, load_by_node, no_loss, node_loss, protocols_work, removals_hold,
                                replicas_converged, single_holder, steady_window, users_unaware)
from harness.observers import LagProbe
from harness.errors import WaitTimeout
from harness.wait import Not, until
from harness.workload import Mix


# -- scenarios -----------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 8.0):
    """Steady mixed workload: every protocol works; mail lands on both replicas; load is shared
    only for SMTP (two MX addresses), the rest goes to the one active server ("Some")."""
    with cert.scenario() as sc:
        sc.steady(seconds)
    steady_window(cert, sc)
    # workload sessions only: probes all target the VIP by construction
    load_by_node(cert, sc)
    return cert.finish()


def read_either(cert: Certifier, samples: int = 100):
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


def _settled(pred, timeout: float, what: str):
    """``pred() -> (done, still_wrong)`` polled until done or ``timeout``: what is still wrong then."""
    last = {}

    def once():
        done, wrong = pred()
        last["wrong"] = wrong
        return done or Not(str(wrong)[:200])
    try:
        until(once, timeout=timeout, interval=0.2, what=what)
    except WaitTimeout:
        pass
    return last.get("wrong")


def _wait_visible(cert, topo, user, pw, tokens, timeout) -> dict[str, list]:
    """Wait until every token is in the user's INBOX on every data node; what is still missing."""
    def check():
        missing = {}
        for n in topo.data_nodes():
            try:
                have = {m["token"] for m in observers.read_replica(topo, n.name, {user: pw})[user]["INBOX"]["messages"]}
            except Exception:
                have = set()
            missing[n.name] = [t for t in tokens if t not in have]
        return not any(missing.values()), missing
    return _settled(check, timeout, f"{len(tokens)} messages on every replica")


def _wait_changes(cert, topo, user, pw, *, flagged, moved, expunged, timeout) -> list[str]:
    def check():
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
        return not problems, problems
    return _settled(check, timeout, "a flag, a move and an expunge on every replica")


def failover(cert: Certifier, fault: str, target: str = "vip-holder", hold: float = 8.0):
    """A server fails (``kill``/``stop``/``pause``; by default the active one): clients fail over to
    the other through the VIP within the no-interruption bound, lose no mail, and reconnect to the
    same mailbox state; every VIP the failed server held moves to the survivor. The failed server
    comes back and resyncs by itself (failback is measured too)."""
    bound = cert.thresholds["no_interruption_s"]
    with cert.scenario() as sc:
        sc.steady(4)
        node = sc.nemesis.resolve(target)
        with sc.fault(fault, node):
            sc.wait(hold)
        sc.steady(8)  # the recovered node resyncs, then takes its VIP back (failback is measured too)
    cert.faults_applied(sc)
    label = fault if target == "vip-holder" else f"{fault}_{target}"
    a = failover_gaps(cert, sc, bound, "failover_no_interruption", label, sessions=True)
    m = no_loss(cert, sc, claim="failover_no_interruption", label=label)
    # no single point of failure / processing redundancy: every service came back, every VIP moved
    node_loss(cert, sc, node, fault, a, cert.thresholds["stops_responding_s"], claims=("no_spof", "processing_redundancy"))
    users_unaware(cert, sc, m, label)
    single_holder(cert, sc, "single_active")
    replicas_converged(cert, sc, "auto_resync", after=label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


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
    failover_gaps(cert, sc, bound, ("single_active", "no_spof"), f"{daemon}_dies", protos=DAEMON_PROTOS[daemon])
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
        restarted = cert.h.now()  # the claim's clock: "when it comes back online" = the restart
        sc.heal(fid)
        ready = cert.h.now() - restarted
        res = observers.wait_converged(sc.topo, cert.h, after=fid, deadline_s=max(bound * 3, 30),
                                       progress=cert.s.progress, started_at=restarted)
    cert.faults_applied(sc)
    replicated = res.get("replicated", True)
    secs = res["seconds"]  # from the restart: the node's own start is part of coming back online
    cert.claim("auto_resync", "unknown" if not replicated else verdict(res["identical"] and secs <= bound),
               checks=["convergence"],
               numbers={f"resync_s_after_{outage:.0f}s_outage": num(secs, "s", bound),
                        "node_ready_s_after_restart": num(ready, "s")},
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
        with sc.fault("wipe", which) as fid:
            sc.wait(6)
        sc.steady(6)
    cert.faults_applied(sc)
    # judged: loss beyond the recovery point (mail acknowledged within rpo_s before the wipe, or
    # while it happened, may go with the disk); duplicates and deleted-but-back count elsewhere
    opts = {"loss_fault": fid, "rpo_s": rpo} if rpo is not None else {}
    m = no_loss(cert, sc, label=f"wipe_{which}", **opts)
    if rpo is not None:
        cert.claim("data_redundancy", from_check(m), numbers={
            f"exposed_within_rpo_{which}": num((m.get("exposed") or {}).get("count", 0)), "rpo_s": num(rpo, "s")})
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


def deleted_stays_deleted(cert: Certifier, fault: str = "link-hold", target: str = "crossover", hold: float = 8.0,
                          users: int = 6, per_mx: int = 2, moved_by: tuple[str, str] | None = None,
                          moved_s: float = 6.0):
    """The replication link is held while mail for the same users arrives on both MX addresses and
    each user deletes a message both replicas already had. When the link is back, the deleted
    message stays deleted on both replicas, nothing acknowledged is missing, and the replicas are
    identical with no UID shown for two messages.

    The sequence of issue 15's chaos seed 11 (docs/mirror-findings.md): with each node delivering
    locally, both saved mail for the same user during the hold and gave the same UIDs to different
    messages; dsync's renumbering of that conflict brought the deleted message back on both sides.

    ``moved_by`` (fault, target), e.g. ``("isolate", "vip-holder")``: applied inside the link fault
    and healed ``moved_s`` later, still inside it — the VIP moves to the peer, the users delete
    there and get new mail there; then, the node back on the LAN but the link still down, more new
    mail arrives through the VIP (the seed-11 replay: mirror-a took the VIP back with the link still
    cut; when the link returned, the merge brought the deleted messages back)."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        vip, smtp_port = topo.endpoint("smtp")
        imap_host, imap_port = topo.endpoint("imap")
        mxs = topo.mx()
        accounts = topo.users()
        chosen = sorted(accounts)[2:2 + users]
        smtp = SmtpClient(cert.h, "split-smtp", topo.node_names, 10)
        imap = ImapClient(cert.h, "split-imap", topo.node_names, 10)
        old = {u: f"mh-{sc.tag}-old{i}" for i, u in enumerate(chosen)}
        for i, (u, t) in enumerate(old.items()):  # half first saved where the first MX is, half at the second
            smtp.send(*mxs[i % len(mxs)], t, u)
        wait = min(cert.thresholds["converge_s"], 15.0)
        reasons = []
        for u, t in old.items():
            for node, miss in _wait_visible(cert, topo, u, accounts[u], [t], timeout=wait).items():
                if miss:
                    reasons.append(f"{u}: the first message not on {node} after {wait:.0f} s: the scenario needs it on both")
        # the order of chaos seed 11: new mail at the first MX, the user's expunge through the VIP,
        # then new mail at the second MX — all while the link is held
        with sc.fault(fault, target):
            if moved_by:
                with sc.fault(*moved_by):
                    sc.wait(2.0)  # the peer holds the VIP (keepalived: ~0.6 s)
                    for u, t in old.items():
                        imap.expunge(imap_host, imap_port, u, accounts[u], [t])
                    for i, u in enumerate(chosen):
                        smtp.send(vip, smtp_port, f"mh-{sc.tag}-u{i}moved", u)
                    sc.wait(moved_s)
                sc.wait(moved_s)  # back on the LAN, the link still down: who holds the VIP now?
                for i, u in enumerate(chosen):
                    smtp.send(vip, smtp_port, f"mh-{sc.tag}-u{i}back", u)
            else:
                for k in range(per_mx):
                    for j, (host, port) in enumerate(mxs):
                        for i, u in enumerate(chosen):
                            smtp.send(host, port, f"mh-{sc.tag}-u{i}mx{j}n{k}", u)
                        if k == 0 and j == 0:
                            for u, t in old.items():
                                imap.expunge(imap_host, imap_port, u, accounts[u], [t])
            sc.wait(hold)
    cert.faults_applied(sc)
    if reasons:
        cert.claim("read_either", "unknown", reasons=reasons)
    removals_hold(cert, sc, no_loss(cert, sc, label="split"), "read_either", label="split")
    replicas_converged(cert, sc, "read_either", after=fault)
    return cert.finish()


def mail_in_at_the_second_mx(cert: Certifier, hold: float = 4.0, count: int = 6):
    """"Send mail in to either system": Postfix dies on the node holding the mail VIP while its
    peer, restarted behind a held replication link, waits for its resync (it may not serve
    mailboxes it has not caught up with). Mail sent to the second MX address must still be
    accepted — by the peer's Postfix, which delivers over LMTP to the mail VIP's holder, whose
    Dovecot works — and delivered to both replicas once the link is back.

    The composite of chaos run …-c954 (docs/mirror-findings.md): the second MX followed the resync
    gate, both addresses stayed on the dead Postfix and no mail came in for 10 s."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        mx2 = topo.mx()[1]
        users = sorted(topo.users())
        smtp = SmtpClient(cert.h, "mx2-smtp", topo.node_names, 10)
        holder = sc.nemesis.resolve("vip-holder")
        peer = next(n.name for n in topo.data_nodes() if n.name != holder)
        reasons, acked = [], 0
        with sc.fault("link-hold", "crossover"):
            with sc.fault("stop", peer):
                sc.wait(1.0)
            try:
                until(lambda: (h := _health(cert, peer)) == "2" or Not(f"health {h}"), timeout=30,
                      interval=0.2, what=f"{peer} waiting for its resync")
            except WaitTimeout as e:
                reasons.append(f"the scenario needs {peer} waiting for its resync: {e}")
            with sc.fault("daemon-kill", holder, daemon="postfix"):
                sc.wait(2.0)  # the health loop sees Postfix dead in ~0.6 s; VRRP moves an address in ~0.6 s
                for i in range(count):
                    ok = smtp.send(*mx2, f"mh-{sc.tag}-mx2n{i}", users[i % len(users)]) == "ok"
                    acked += ok
                    sc.wait(0.3)
                sc.wait(hold)
    cert.faults_applied(sc)
    if acked < count:
        reasons.append(f"{count - acked} of {count} messages sent to the second MX ({mx2[0]}) refused or failed while "
                       f"Postfix was dead on {holder} and {peer} waited for its resync")
    cert.claim("read_either", "unknown" if reasons and acked == count else verdict(not reasons),
               numbers={"second_mx_accepted": num(acked, "", count, ">=")}, reasons=reasons, checks=["messages"])
    no_loss(cert, sc, claim="read_either", label="second_mx")
    replicas_converged(cert, sc, "read_either", after="second_mx")
    return cert.finish()


def _health(cert: Certifier, node: str) -> str:
    """The node's health-loop state (0 healthy, 1 a daemon down, 2 waiting for its resync)."""
    r = docker.exec_(cert.cluster.container(node), "cat /run/mailha/health", timeout=10)
    return r.out.strip() if r.ok else "?"


def deferred_not_bounced(cert: Certifier, hold: float = 6.0, count: int = 5):
    """Mail accepted while no server can deliver it (Dovecot down on both: the reference delivers
    to the VIP holder, so Dovecot down on one only moves the VIP) is deferred — then delivered when
    Dovecot is back — never bounced."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        users = sorted(topo.users())
        smtp = SmtpClient(cert.h, "direct-smtp", topo.node_names, 10)
        with ExitStack() as down:
            for node in topo.node_names:
                down.enter_context(sc.fault("daemon-kill", node, daemon="dovecot"))
            for i in range(count):
                node = topo.node_names[i % len(topo.node_names)]
                smtp.send(topo.nodes[node].lan, 25, f"mh-{sc.tag}-d{i}", users[i % len(users)])
            sc.wait(hold)
    cert.faults_applied(sc)
    m = no_loss(cert, sc, claim="smtp", label="delivery_down")
    cert.claim("smtp", from_check(m), numbers={"accepted_while_delivery_down": num((m.get("sends") or {}).get("ok"))})
    return cert.finish()
