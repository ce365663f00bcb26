"""Design III's certification scenarios (shared storage: three mail servers on one mirrored NAS,
behind a load-balancer pair), one per claim family. Each runs against whatever cluster it is
given — the reference or a broken variant — and returns the claims it measured; verdicts come
from the shared judgements (harness/judgements.py), with the rules read from the topology:

- every mail server is a data node holding every user, so each acknowledged message must be
  readable through *every* server (``placement``: "each") and the servers' views must be
  identical (``replicas_converged``): that is the symmetry claim, judged in every scenario;
- the load balancers hold the one virtual IP (single holder); the NAS nodes are ``tier: nas``.
"""
from __future__ import annotations

import random
import time
from types import SimpleNamespace

from harness import docker
from harness.certification import Certifier, from_check, num, verdict
from harness.clients.imap import ImapClient
from harness.clients.smtp import SmtpClient
from harness.judgements import (endpoint_protos, failover_gaps, load_by_tier, no_loss, node_loss, protocols_work,
                                replicas_converged, single_holder, steady_window)
from harness.observers import LagProbe
from harness.topology import Topology
from harness.wait import Not, until

# Generalise (lead): the mirror's helpers that wait until mail / a flag, move and expunge show on
# every data node are design-neutral (they iterate topo.data_nodes()); imported, not copied.
from suites.mirror.scenarios import _wait_changes, _wait_visible
# Generalise (lead): the proxy's per-server probes and its recovery watch (a dependency every login
# needs goes away and comes back: who failed, and when was each served again) fit any dependency —
# here the shared store; imported, not copied.
from suites.proxy.probes import GroupProbes
from suites.proxy.watch import watch_recovery
# Generalise (lead): design II's count of mail Postfix returned to its sender fits any MTA tier.
from suites.functional_split.scenarios import _bounces
# Generalise (lead): the proxy's growth records (a timed step; container start times before and
# after) fit any design that grows at runtime; imported, not copied.
from suites.proxy import records


#: probes per second and protocol through the VIP: 5 resolves a gap to 0.2 s (the bounds are
#: seconds) and keeps the probe logins, which open the probe user's INBOX on the shared volume,
#: from being most of the storage load on a 2-core host
PROBE_RATE = 5.0

#: how long a brick replaced empty may take to heal before the mirror counts as not restored
HEAL_WAIT_S = 180.0

#: a whole-store outage lasts longer than the clients' GlusterFS network.ping-timeout (10 s): they
#: give the storage up (I/O errors instead of waiting) and must reconnect by themselves once it is
#: back — the harder of the two cases (a shorter one is a stall, measured by the hang tests)
OUTAGE_HOLD_S = 15.0

#: where every mail server (ss-node) mounts the shared store
MOUNT = "/srv/mail"


def mail_servers(topo) -> list[str]:
    """The mail servers (data nodes: each serves every user from the shared store)."""
    return [n.name for n in topo.data_nodes()]


def nas_nodes(topo) -> list[str]:
    return [n for n in topo.node_names if topo.tier(n) == "nas"]


def lbs(topo) -> list[str]:
    return [n for n in topo.node_names if topo.tier(n) == "lb"]


def symmetric(cert: Certifier, sc, label: str) -> None:
    """Every server shows every mailbox identically (UIDs, flags, UIDVALIDITY) at the end."""
    replicas_converged(cert, sc, "symmetric", after=label)


# -- scenarios -----------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 10.0):
    """Steady mixed workload through the virtual IP: every protocol works end to end, no mail is
    lost, every message is readable through every server, and sessions spread over the three."""
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        t_load = sc.h.now()
        sc.steady(seconds)
    steady_window(cert, sc, loss_claim="smtp")
    symmetric(cert, sc, "steady")
    for claim in ("load_sharing", "load_shared"):
        load_by_tier(cert, sc, claim=claim, only=("mail",), after=t_load)
    return cert.finish()


def cross_server(cert: Certifier, samples: int = 12, idle_samples: int = 6):
    """Mail delivered through one server is readable through every other; a flag set on one, a
    move made on another and an expunge made on the third show on every server; how long a
    change takes to be visible on another server (lag, from visible on the delivering server),
    polled and to a client waiting in IMAP IDLE (``idle_notify_p99_s``)."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        servers = mail_servers(topo)
        users = topo.users()
        user = sorted(users)[2]
        pw = users[user]
        smtp = SmtpClient(cert.h, "cross-smtp", topo.node_names, 10)
        toks = {s: [f"mh-{sc.tag}-{s}m{i}" for i in range(2)] for s in servers}
        wait = min(cert.thresholds["converge_s"], 15.0)
        reasons = []
        for src in servers:
            for t in toks[src]:
                smtp.send(topo.nodes[src].lan, 25, t, user)
            for node, miss in _wait_visible(cert, topo, user, pw, toks[src], timeout=wait).items():
                if miss:
                    reasons.append(f"{len(miss)} of {len(toks[src])} messages delivered through {src} "
                                   f"not visible through {node} after {wait:.0f} s")
        a, b, c = servers[:3]
        imap = ImapClient(cert.h, "cross-imap", topo.node_names, 10)
        imap.flag(topo.nodes[a].lan, 143, user, pw, toks[b][0], "\\Flagged")
        imap.move(topo.nodes[b].lan, 143, user, pw, [toks[c][0]], "Archive")
        imap.expunge(topo.nodes[c].lan, 143, user, pw, [toks[a][1]])
        reasons += _wait_changes(cert, topo, user, pw, flagged=toks[b][0], moved=toks[c][0], expunged=toks[a][1],
                                 timeout=wait)
        if not reasons:  # the lag of a store that does not share would only measure timeouts
            lag = LagProbe(topo, cert.h, user, pw, random.Random(cert.s.seed), sc.tag)
            pairs = [(s, d) for s in servers for d in servers if s != d]
            for i in range(samples):
                lag.sample(*pairs[i % len(pairs)])
            # the same, to a client waiting in IDLE on the other server (a mail client's new-mail moment)
            for i in range(idle_samples):
                lag.sample(*pairs[i % len(pairs)], timeout=wait, idle=True)
    lg = cert.check("lag", sc, p99_bound_s=cert.thresholds["lag_p99_s"])
    idle = cert.check("lag", sc, p99_bound_s=cert.thresholds["idle_notify_p99_s"], f="idle-lag")
    nums = {"cross_server_visibility_p50": num(lg.get("p50"), "s"),
            "cross_server_visibility_p99": num(lg.get("p99"), "s", cert.thresholds["lag_p99_s"]),
            "cross_server_visibility_max": num(lg.get("max"), "s"),
            "cross_server_idle_notify_p50": num(idle.get("p50"), "s"),
            "cross_server_idle_notify_p99": num(idle.get("p99"), "s", cert.thresholds["idle_notify_p99_s"]),
            "cross_server_idle_notify_max": num(idle.get("max"), "s"),
            "cross_server_idle_samples": num(idle.get("count"))}
    for r in (lg, idle):
        if r["valid"] == "fail":
            reasons += r.get("reasons") or []
    unknown = lg["valid"] == "unknown" or (idle_samples and idle["valid"] == "unknown")
    value = "unknown" if unknown and not reasons else verdict(not reasons)
    cert.claim("symmetric", value, numbers=nums, reasons=reasons, checks=["lag"])
    no_loss(cert, sc, claim="smtp")
    symmetric(cert, sc, "cross-server")
    return cert.finish()


def node_fails(cert: Certifier, fault: str, target: str, hold: float = 8.0):
    """One node of any tier fails (a mail server, the load balancer holding the VIP, a storage
    node): every service through the virtual IP comes back within the 'stops responding' bound,
    no acknowledged mail is lost, every server still shows every mailbox identically, and the
    VIP has one holder at every instant. The longest gap is the failover gap (a mail server or
    LB) or the stall (a storage node)."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        sc.steady(4)
        node = sc.nemesis.resolve(target)
        with sc.fault(fault, node):
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    label = f"{fault}_{node}"
    a = failover_gaps(cert, sc, bound, "processing_redundancy", label)
    node_loss(cert, sc, node, fault, a, bound, claims=("processing_redundancy",))
    single_holder(cert, sc, "processing_redundancy")
    no_loss(cert, sc, claim="processing_redundancy", label=label)
    symmetric(cert, sc, label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


#: the client protocols a daemon's failure takes away on its server
DAEMON_PROTOS = {"dovecot": ["imap", "pop3"], "dovecot-hang": ["imap", "pop3"], "postfix": ["smtp"]}


def daemon_fails(cert: Certifier, daemon: str, target: str = "ss2", hold: float = 8.0):
    """One daemon on one mail server dies or hangs (the machine stays up, its other services too):
    the load balancers' protocol checks must stop sending it clients of that protocol, so the
    service through the VIP is back within the 'stops responding' bound; no mail lost."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        sc.steady(4)
        with sc.fault("daemon-kill", target, daemon=daemon):
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    label = f"{daemon}_{target}"
    failover_gaps(cert, sc, bound, "processing_redundancy", label, protos=DAEMON_PROTOS[daemon])
    no_loss(cert, sc, claim="processing_redundancy", label=label)
    symmetric(cert, sc, label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


def storage_lost(cert: Certifier, target: str, hold: float = 6.0):
    """One storage node loses its disk (``brick-wipe``: killed, its brick emptied as a replaced
    disk would be, started again): no acknowledged message is lost, the service continues on the
    other storage node, and the mirror heals (time until no heal entry is pending)."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        sc.steady(3)
        with sc.fault("brick-wipe", target) as fid:
            sc.wait(hold)
        healed_at = sc.h.now()
        sc.steady(4)
        heal = nas_heal(cert, sc, started_at=healed_at, deadline_s=HEAL_WAIT_S)
    cert.faults_applied(sc)
    label = f"brick-wipe_{target}"
    a = failover_gaps(cert, sc, bound, "processing_redundancy", label)
    m = no_loss(cert, sc, claim="smtp", label=label)
    # LOCAL ADAPTATION (lead: generalise judgements.holders_lost to storage holders — nodes of
    # tier ``nas`` and the fault ``brick-wipe`` — so that no_loss records data_redundancy itself):
    # a confirmed brick wipe of a NAS node is a storage holder lost.
    value = from_check(m)
    reasons = list(m.get("reasons") or [])
    if heal["pending"] is None or heal["pending"] > 0:
        reasons.append(f"the mirror had not healed {heal['waited_s']:.0f} s after the brick came back "
                       f"({heal['pending']} entries pending)")
        value = "No" if value == "Yes" else value
    t = m.get("totals") or {}
    cert.claim("data_redundancy", value, checks=["messages"], reasons=reasons, numbers={
        f"acked_{label}": num(t.get("acked")), f"lost_{label}": num(t.get("lost"), "", 0),
        # measured, not bounded: a heal's length grows with the data held; not healed within the
        # wait is redundancy not restored (a reason above)
        f"heal_s_{label}": num(heal["seconds"], "s"),
        f"storage_holders_lost_{label}": num(target), f"fault_{label}": num(fid)})
    # (no convergence-time judgement here: reads during the heal measure the heal, not symmetry;
    # every acknowledged message must still be read through every server: no_loss above)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


def storage_outage(cert: Certifier, faults: list[tuple[str, str]], label: str, hold: float = OUTAGE_HOLD_S,
                   data_claim: str = "data_redundancy", service_claim: str = "processing_redundancy"):
    """The whole shared store goes away for longer than its clients' ping-timeout, and comes back:
    every storage node hung (``nas-stall`` on each, design III), or the storage network cut from
    every server (design V's Switch1). ``faults`` are applied in order and healed together (all
    released, then each confirmed), so the last one's window — from its confirmation to its heal's —
    is the time all were on: the outage. Held:

    - under ``data_claim`` (where the mail went): no acknowledged message lost (``no_loss``), none
      returned to its sender (Postfix must defer: ``status=bounced`` in no MTA's log), and every
      server still has the store mounted and readable at ``MOUNT`` (a dead FUSE mount, or an empty
      local directory taking mail where the mount should be, is how mail "vanishes");
    - under ``service_claim`` (what users met): while it is away they stall or get temporary
      errors — no permanent refusal (``dependency_outage``); once it answers again every user who
      failed is served again — through the client endpoints and on every mail server directly
      (IMAP opens the INBOX, POP3 its mailbox: a login alone need not touch the store) — within
      ``dependency_recovery_s`` (the recovery watch retries each).

    The clients' longest gap per protocol through the endpoints is recorded (the stall), not bounded."""
    bound = float(cert.thresholds["dependency_recovery_s"])
    deadline = max(float(cert.thresholds["recovery_s"]), 3 * bound) + 10
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        topo = sc.topo
        servers = mail_servers(topo)
        vias = {s: topo.nodes[s].lan for s in servers}
        gps = [GroupProbes(topo, cert.h, {s: topo.users()}, protos=("imap", "pop3"), period=1.0, workers=1,
                           timeout=cert.thresholds["backend_error_s"] + 2, target=addr, imap_select=True).start()
               for s, addr in vias.items()]
        fids: list[str] = []
        try:
            sc.steady(3)
            for fault, target in faults:
                fids.append(sc.apply(fault, target))
            sc.wait(hold)
            sc.heal_together(fids)  # every storage node back at once: a node's readiness needs its peer
            watch_recovery(cert, topo, fids[-1], vias | {"endpoint": None}, min_watch_s=2 * bound,
                           deadline_s=deadline, imap_select=True)
        finally:
            for g in gps:
                g.stop()
        mounts = _mounts(topo, servers)
    cert.faults_applied(sc)
    target = faults[-1][1]
    r = cert.check("dependency_outage", sc, dependency=target, fault_id=fids[-1], bound_s=bound)
    a = cert.check("availability", sc, bound_s=deadline + hold, min_availability=0.0, max_broken_ratio=1.0,
                   protos=endpoint_protos(topo))
    mtas = [n for n in topo.node_names if "postfix" in topo.daemons_of(n)]
    bounced = _bounces(sc, mtas, since=sc.start_t)
    nums = {f"recovery_s_{label}": r.get("recovery_s") or num(None, "s", bound),
            f"recovery_resolution_s_{label}": num(r.get("resolution_s"), "s"),
            f"users_failed_during_{label}": num(r.get("failed_keys")),
            f"users_not_recovered_after_{label}": num(r.get("not_recovered"), "", 0)}
    for proto, p in (r.get("protos") or {}).items():
        nums |= {f"{proto}_refused_during_{label}": num(p["refused_during"]),
                 f"{proto}_client_gave_up_during_{label}": num(p["client_gave_up_during"]),
                 f"{proto}_held_until_it_returned_{label}": num(p["held_until_returned"]),
                 f"{proto}_recovery_s_{label}": p["recovery_s"]}
    for proto, d in sorted((a.get("protos") or {}).items()):
        nums[f"{proto}_longest_gap_{label}"] = num((d.get("longest_gap") or {}).get("value"), "s")
    reasons = [] if r["valid"] == "pass" else list(r.get("reasons") or [])
    value = "No" if r["valid"] == "fail" else "unknown" if r["valid"] == "unknown" else "Yes"
    cert.claim(service_claim, value, numbers=nums, reasons=reasons, checks=["dependency_outage", "availability"])
    data_reasons = [f"{s}: {why}" for s, why in sorted(mounts.items()) if why]
    if bounced:
        data_reasons.append(f"{sum(bounced.values())} messages returned to their sender instead of deferred: {bounced}")
    cert.claim(data_claim, "No" if data_reasons else "Yes", reasons=data_reasons, checks=["messages"], numbers={
        f"bounced_{label}": num(sum(bounced.values()), "", 0),
        f"dead_mounts_after_{label}": num(sum(1 for v in mounts.values() if v), "", 0)})
    no_loss(cert, sc, claim=data_claim, label=label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


def _mounts(topo, servers: list[str]) -> dict[str, str | None]:
    """Per server: None when the shared store is mounted at ``MOUNT`` and readable; else what is
    wrong (not mounted; mounted but dead — ``Transport endpoint is not connected``)."""
    out = {}
    for s in servers:
        r = docker.exec_(topo.container(s), f"t=$(awk -v m={MOUNT} '$2 == m {{print $3}}' /proc/mounts); "
                         f"[ -n \"$t\" ] || {{ echo 'not mounted at {MOUNT}'; exit 1; }}; "
                         f"timeout 10 ls -d {MOUNT}/. >/dev/null 2>/tmp/mnt.err || "
                         f"{{ echo \"$t mount at {MOUNT} dead: $(cat /tmp/mnt.err)\"; exit 1; }}", timeout=30)
        out[s] = None if r.ok else ((r.out or r.err).strip()[-200:] or f"mount check failed ({r.rc})")
    return out


def nas_heal(cert: Certifier, sc, started_at: float, deadline_s: float | None = None) -> dict:
    """Poll ``gluster volume heal <vol> info`` on the storage nodes until no entry is pending;
    record a ``nas-heal`` op ``{seconds, pending}`` (seconds from ``started_at``, history time)."""
    topo = sc.topo
    deadline_s = deadline_s or cert.thresholds["recovery_s"]
    cmd = (topo.meta.get("nas") or {}).get("heal_info") or "gluster --mode=script volume heal mail info"
    proc = "observer-nas-heal"
    cert.h.invoke(proc, "nas-heal", {"cmd": cmd})
    t0 = time.monotonic()
    pending = None
    while time.monotonic() - t0 < deadline_s:
        pending = _pending_heals(topo, cmd)
        if pending == NOT_MIRRORED:  # nothing can ever heal it: say so now, not after the wait
            cert.h.fail(proc, "nas-heal", {"pending": None}, error="the volume is not mirrored: nothing to heal from")
            return {"seconds": None, "pending": None, "waited_s": time.monotonic() - t0}
        if pending == 0:
            secs = round(cert.h.now() - started_at, 3)
            cert.h.ok(proc, "nas-heal", {"seconds": secs, "pending": 0})
            return {"seconds": secs, "pending": 0, "waited_s": time.monotonic() - t0}
        sc.progress.status(f"waiting for the NAS mirror to heal: {pending} entries pending")
        time.sleep(1.0)
    cert.h.fail(proc, "nas-heal", {"pending": pending}, error=f"{pending} heal entries pending after {deadline_s:.0f} s")
    return {"seconds": None, "pending": pending, "waited_s": time.monotonic() - t0}


def heal_entries(text: str) -> int | None:
    """Entries pending heal in ``gluster volume heal <vol> info`` output: the sum of every brick's
    'Number of entries'; None when a brick's count is not a number (e.g. '-' for a brick that is
    not connected) or no brick is listed — not known is never 0."""
    counts = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Number of entries")]
    if not counts or not all(c.isdigit() for c in counts):
        return None
    return sum(int(c) for c in counts)


#: what ``_pending_heals`` answers for a volume without replicas (GlusterFS: "not of type replicate")
NOT_MIRRORED = -1


def _pending_heals(topo, cmd: str) -> int | None:
    """``heal_entries`` asked on the first storage node that answers; None when none does;
    ``NOT_MIRRORED`` when the volume has no replicas to heal from."""
    for node in nas_nodes(topo):
        try:  # a volume busy healing can take long to answer: not known, asked again
            r = docker.exec_(topo.container(node), cmd, timeout=60)
        except Exception:
            continue
        if r.ok:
            return heal_entries(r.out)
        if "not of type" in (r.out + r.err):
            return NOT_MIRRORED
    return None


def add_server(cert: Certifier, before_s: float = 3.0, after_s: float = 8.0):
    """'You can easily add in one or more servers': a fourth mail server (``x-mailha.add_server``)
    is started while the cluster serves its users and put into both running load balancers over
    their runtime API. It must take its share of sessions (``load`` over the four servers, from
    when it was in service), the existing users must see no interruption (``availability``
    against the no-interruption bound, sessions included), and no other container restarts."""
    spec = cert.cluster.meta.get("add_server") or {}
    name, reg = spec["name"], spec["register"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        before = records.started(cert.h, cert.cluster, "before")
        sc.steady(before_s)
        t0 = time.monotonic()
        with records.step(cert.h, "server_start"):
            cert.cluster.start_service(spec["service"], checks=spec.get("ready"))
        with records.step(cert.h, "server_in_service"):
            for svc in reg["services"]:
                r = docker.exec_(cert.cluster.container(svc), reg["cmd"], timeout=30)
                if not r.ok:
                    raise AssertionError(f"add_servers: registering {name} in {svc} failed: {(r.err or r.out).strip()[-200:]}")
            _wait_in_service(cert, reg["services"], name)
        joined_s = time.monotonic() - t0
        in_service_at = cert.h.now()
        sc.steady(after_s)
        after = records.started(cert.h, cert.cluster, "after")
    cert.cluster.dirty = True  # grown on purpose: later tests get the reference size again
    restarted = sorted(s for s, t in before.items() if t is None or after.get(s) != t)
    a = failover_gaps(cert, sc, cert.thresholds["no_interruption_s"], "add_servers", "add_server", sessions=True)
    joined = SimpleNamespace(window=(in_service_at, sc.window[1]), tag=sc.tag)
    load = cert.check("load", joined, f=("send", "read", "pop-read", "webmail-list", "session", "probe"),
                      nodes=[*mail_servers(sc.topo), name], expect=None)
    nums = {"join_s": num(round(joined_s, 2), "s")}
    for p, d in sorted((load.get("protos") or {}).items()):
        nums[f"{p}_share_{name}"] = num(((d.get("nodes") or {}).get(name) or {}).get("share"))
    reasons = [f"{s} restarted while {name} was added" for s in restarted]
    if load.get("measured") != "Yes":
        reasons.append(f"{name} did not take its share of every protocol (load sharing measured "
                       f"{load.get('measured')} over the four servers)")
    value = "unknown" if load.get("measured") is None and not reasons else verdict(not reasons)
    cert.claim("add_servers", value, numbers=nums, reasons=reasons, checks=["load", "availability"])
    no_loss(cert, sc, claim="smtp", label="add_server")
    symmetric(cert, sc, "add_server")
    return cert.finish()


def _wait_in_service(cert: Certifier, lbs_: list[str], name: str, timeout: float = 30.0) -> None:
    """Until every load balancer reports ``name`` UP in each of its backends."""
    cmd = "echo 'show stat' | socat -t 2 stdio unix-connect:/run/haproxy/admin.sock"

    def up():
        for svc in lbs_:
            r = docker.exec_(cert.cluster.container(svc), cmd, timeout=10)
            rows = [ln.split(",") for ln in r.out.splitlines() if f",{name}," in ln] if r.ok else []
            if len(rows) < 4 or any(row[17] != "UP" for row in rows):
                return Not(f"{svc}: {[(row[0], row[17]) for row in rows] or 'not listed'}")
        return True
    until(up, timeout=timeout, interval=0.3, what=f"{name} UP in every backend of {', '.join(lbs_)}")


def scale_100000(cert: Certifier):
    """'Can scale for 100000+ users' is not certifiable on one host: recorded as ``unknown`` with
    the scale actually exercised (never a Yes)."""
    topo = Topology(cert.cluster)
    n = len(topo.users()) + 1  # the workload users and the probe user
    cert.claim("scale_100000", "unknown", numbers={
        "users_exercised": num(n, "users", 100000, ">="), "mail_servers": num(len(mail_servers(topo))),
        "storage_nodes": num(len(nas_nodes(topo)))},
        reasons=[f"exercised with {n} users on {len(mail_servers(topo))} mail servers and "
                 f"{len(nas_nodes(topo))} storage nodes on one host; 100 000 users were not loaded"])
    return cert.finish()
