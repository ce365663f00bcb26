"""Design V's certification scenarios (the high-end cluster: the sheet's ten components, two of
each), one per claim family. Each runs against whatever cluster it is given — the reference or a
broken variant — and returns the claims it measured; verdicts come from the shared judgements
(harness/judgements.py), with the rules read from the topology:

- the front ends are data nodes that each serve every user from the NAS, so each acknowledged
  message must be readable through *every* front end (``placement``: "each");
- two virtual IPs (LVS1's and LVS3's), each with one holder at every instant;
- the tiers are the nodes' ``tier`` (lb, filter, smtp, webmail, frontend, directory, nas): load is
  judged per tier, and the uptime projection charges each fault to its target's tier.

The ECM tier's filtering is design II's scenario (``suites.functional_split.scenarios.filtering``),
run here against this cluster's ECMs: imported, not copied.
"""
from __future__ import annotations

import re

from harness import docker
from harness.certification import Certifier, num
from harness.judgements import (failover_gaps, load_by_tier, no_loss, node_loss, protocols_work, replicas_converged,
                                single_holder, steady_window, uptime_projection)
from suites.functional_split.scenarios import filtering  # noqa: F401  (the ECM tier: design II's scenario)
from suites.shared_storage.scenarios import PROBE_RATE

#: the two virtual IPs by the sheet's names
LVS1_VIP, LVS3_VIP = "10.238.0.200", "10.238.0.210"

#: one server of every tier, in the order of the sheet's mail path; a selector for the LB tiers
#: (the one holding each VIP), the first server of the others
KILL_TOUR = [("kill", f"vip-holder:{LVS1_VIP}", {}), ("kill", "ecm1", {}), ("kill", "smtp1", {}),
             ("kill", "web1", {}), ("kill", f"vip-holder:{LVS3_VIP}", {}), ("kill", "fe1", {}),
             ("kill", "ldap1", {}), ("kill", "nas1", {})]

#: the same tiers hung rather than dead: paused (frozen, its TCP still accepted by the kernel), an
#: ECM's scanners dead (its Postfix still answers EHLO), a front end's Dovecot stopped, a storage node
#: hung (every front end's I/O waits for GlusterFS's network.ping-timeout, 10 s here) (a front end cannot be paused whole: its FUSE client freezes
#: against itself, design III) — what only protocol health checks see
HANG_TOUR = [("pause", f"vip-holder:{LVS1_VIP}", {}), ("pause", "ecm2", {}),
             ("daemon-kill", "ecm1", {"daemon": "scanners"}), ("pause", "smtp2", {}),
             ("pause", "web2", {}), ("pause", f"vip-holder:{LVS3_VIP}", {}),
             ("daemon-kill", "fe2", {"daemon": "dovecot-hang"}), ("pause", "ldap1", {}), ("pause", "nas2", {})]

#: the claims every tour evidences
TIER_CLAIMS = ("separate_tiers", "processing_redundancy")


def _frontends_converged(cert, sc, label: str) -> None:
    """Every front end shows every mailbox identically at the end (they share one store)."""
    replicas_converged(cert, sc, "processing_redundancy", after=label)


def delivery_shares(cert: Certifier, since: dict[str, int]) -> dict[str, int]:
    """Deliveries each SMTP delivery server made since ``since`` (its count of Postfix
    ``status=sent`` log lines then): the delivery tier answers no client, so who served a message
    is read from its own log."""
    out = {}
    for node in [n for n in cert.cluster.meta["nodes"] if cert.cluster.meta["nodes"][n].get("tier") == "smtp"]:
        try:
            text = docker.logs(cert.cluster.container(node))
        except Exception:
            out[node] = None
            continue
        out[node] = len(re.findall(r"status=sent", text)) - since.get(node, 0)
    return out


# -- scenarios -----------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 10.0):
    """Steady mixed workload through the sheet's path (mail in at LVS1 → ECM → SMTP → LVS3 → front
    ends on the NAS; IMAP/POP through LVS3; webmail through LVS1 → Roundcube → LVS3): every
    protocol works end to end and served throughout, nothing lost, every front end shows every
    mailbox, and each tier shares its load."""
    before = delivery_shares(cert, {})
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        t_load = sc.h.now()
        sc.steady(seconds)
    steady_window(cert, sc, loss_claim="smtp")
    _frontends_converged(cert, sc, "steady")
    for claim in ("load_sharing", "load_shared"):
        load_by_tier(cert, sc, claim=claim, only=("filter", "webmail", "frontend"), after=t_load)
    _delivery_tier_load(cert, delivery_shares(cert, before))
    return cert.finish()


def _delivery_tier_load(cert: Certifier, sent: dict[str, int | None]) -> None:
    """The SMTP delivery tier's shares (from its servers' logs) against the fair-share band."""
    band = cert.thresholds["load_share_band"]
    total = sum(v or 0 for v in sent.values())
    fair = 1 / max(len(sent), 1)
    nums = {f"smtp_share_{n}": num(round((v or 0) / total, 3) if total else None) for n, v in sorted(sent.items())}
    if None in sent.values() or total < cert.min_ok:
        value, reasons = "unknown", [f"smtp tier: {total} deliveries read from the logs ({sent}), too few to say"]
    else:
        off = {n: v / total for n, v in sent.items() if not fair * (1 - band) <= v / total <= fair * (1 + band)}
        value = "No" if off else "Yes"
        reasons = [f"smtp tier: shares {', '.join(f'{n} {x:.2f}' for n, x in off.items())} "
                   f"(fair {fair:.2f} ± {band:.0%})"] if off else []
    for claim in ("load_sharing", "load_shared"):
        cert.claim(claim, value, numbers=nums, reasons=reasons, checks=["load"])


def tour(cert: Certifier, faults: list, hold: float = 6.0, settle: float = 4.0):
    """One server of each tier fails in turn (``faults``: (fault, target, params)), each held
    ``hold`` s, then healed (a killed or stopped server started again, a paused one resumed) and
    ``settle`` s of steady load before the next. Every service through both VIPs must come back
    within the 'stops responding' bound after each (the other tiers keep working, that tier's
    service continues on its peer), nothing acknowledged lost, one holder per VIP at every
    instant, every front end showing every mailbox. Each fault's cost to each protocol feeds the
    99.9 % projection (``uptime_projection``)."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        sc.steady(4)
        for fault, target, params in faults:
            with sc.fault(fault, target, **params):
                sc.wait(hold)
            sc.steady(settle)
    cert.faults_applied(sc)
    a = failover_gaps(cert, sc, bound, TIER_CLAIMS, "tour")
    _per_fault(cert, a, bound)
    single_holder(cert, sc, "processing_redundancy")
    no_loss(cert, sc, claim="processing_redundancy", label="tour")
    _frontends_converged(cert, sc, "tour")
    uptime_projection(cert, sc, "uptime_999")
    protocols_work(cert, sc, "after-tour")
    return cert.finish()


def _per_fault(cert: Certifier, a: dict, bound: float) -> None:
    """Each fault's longest gap per protocol, as numbers of separate_tiers (who cost what)."""
    nums, reasons = {}, []
    for proto, d in sorted((a.get("protos") or {}).items()):
        for w in d.get("fault_windows") or []:
            nums[f"{proto}_gap_{w['fault']}_{w['target']}"] = num(w.get("gap"), "s", bound)
            if w.get("gap") is not None and w["gap"] > bound:
                reasons.append(f"{proto}: {w['gap']} s without service around {w['fault']} of {w['target']} "
                               f"(bound {bound:.0f} s)")
    cert.claim("separate_tiers", "No" if reasons else "Yes" if nums else "unknown", numbers=nums, reasons=reasons,
               checks=["availability"])


def node_fails(cert: Certifier, fault: str, target: str, hold: float = 8.0, **params):
    """One server fails (a broken variant's scenario): every service through the VIPs back within
    the 'stops responding' bound, nothing lost, one holder per VIP."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(probe_rate=PROBE_RATE) as sc:
        sc.steady(4)
        node = sc.nemesis.resolve(target)
        with sc.fault(fault, node, **params):
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    label = f"{fault}_{node}"
    a = failover_gaps(cert, sc, bound, TIER_CLAIMS, label)
    _per_fault(cert, a, bound)
    node_loss(cert, sc, node, fault, a, bound, claims=("processing_redundancy",))
    no_loss(cert, sc, claim="processing_redundancy", label=label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()
