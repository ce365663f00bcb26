"""The bounds claims are held against: what "no interruption", "for a period" and the
resync bound mean, as options with documented defaults.

Set them with ``--mailha-threshold NAME=VALUE`` (repeatable) or
``MAILHA_THRESHOLDS="NAME=VALUE,NAME=VALUE"``. Every measurement in the report is shown
next to the threshold it was held against.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Threshold:
    name: str
    default: float
    unit: str
    meaning: str


THRESHOLDS: dict[str, Threshold] = {t.name: t for t in [
    Threshold("no_interruption_s", 2.0, "s",
              "longest gap a client may see through the virtual IP for a failover to count as 'no interruption'"),
    Threshold("stops_responding_s", 5.0, "s",
              "'stops responding for a period': the longest a dead primary may keep the clients before failover"),
    Threshold("resync_s", 30.0, "s",
              "auto-resync: time from a node's return until both replicas are identical"),
    Threshold("converge_s", 30.0, "s",
              "time after a heal within which replicas must be identical"),
    Threshold("lag_p99_s", 2.0, "s", "replication lag, 99th percentile, in steady state"),
    Threshold("idle_notify_p99_s", 5.0, "s",
              "a client waiting in IMAP IDLE on one server is told of mail saved through another server within "
              "this (99th percentile): a mail client's 'new mail' moment; the servers' own re-check interval "
              "(Dovecot's mailbox_idle_check_interval, 2 s in designs III and V) plus a delivery's saving"),
    Threshold("rpo_s", 1.0, "s",
              "recovery point of asynchronous replication: when a server and its disk are lost, mail it "
              "acknowledged less than this long before may be lost with it; older mail must survive"),
    Threshold("broken_sessions_ratio", 0.5, "",
              "'most users unaware': at most this share of open sessions may be broken by a failover; the "
              "availability checker's default bound on broken / ended sessions that had opened, per protocol"),
    Threshold("failover_min_availability", 0.9, "",
              "availability floor (ok / all probes, per protocol) over a checked window that contains failovers: "
              "the availability checker's default, so that repeated short outages, each within "
              "no_interruption_s, cannot pass; one gap of no_interruption_s (2 s) costs at most 10 % of a "
              "window of 20 s or more (a check held to the longer stops_responding_s passes its own floor)"),
    Threshold("vip_handover_s", 0.5, "s",
              "VRRP handover: per move of a virtual IP (a change of holder) at most one overlap with two "
              "holders, of at most this long in all; any other double holder is split brain"),
    Threshold("aware_users_ratio", 0.5, "",
              "'most users unaware': at most this share of the users may be able to notice a failover (a session "
              "of theirs broken, a duplicate or a deleted message back, a UID shown for another message, a "
              "UIDVALIDITY change); 'most' unaware means fewer than half could notice"),
    Threshold("min_ok_ops", 5, "ops", "a checker with fewer successful operations says unknown, not pass"),
    Threshold("load_share_band", 0.5, "",
              "load sharing: each node's share of sessions must lie within fair share × (1 ± band)"),
    Threshold("availability", 0.999, "", "availability floor for designs that claim an uptime (99.9 %)"),
    Threshold("backend_error_s", 10.0, "s", "users of a dead back end must get a clean error within this bound"),
    Threshold("recovery_s", 60.0, "s", "service recovery after an outage of a dependency (LDAP, NAS, back end)"),
    Threshold("dependency_recovery_s", 10.0, "s",
              "once a dependency every login needs (the directory) answers again, every user of a running server "
              "who failed while it was away must be served again within this ('recovers' as a user means it: a "
              "retry a few seconds later works); users of a server that was itself restarted during the outage "
              "and had to recover by itself are held to recovery_s"),
]}


def parse(pairs: list[str] | str | None) -> dict[str, float]:
    """``["a=1", "b=2"]`` or ``"a=1,b=2"`` -> values merged over the defaults; unknown names raise."""
    values = {k: t.default for k, t in THRESHOLDS.items()}
    if not pairs:
        return values
    if isinstance(pairs, str):
        pairs = [p for p in pairs.split(",") if p.strip()]
    for p in pairs:
        name, sep, val = p.partition("=")
        name = name.strip()
        if not sep or name not in THRESHOLDS:
            raise ValueError(f"unknown threshold {name!r}; known: {', '.join(THRESHOLDS)}")
        try:
            values[name] = float(val)
        except ValueError:
            raise ValueError(f"threshold {name} needs a number, got {val!r}") from None
    return values
