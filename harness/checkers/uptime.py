"""``uptime``: an uptime claim ("99.9 %") made measurable — what the run's faults cost the clients,
and what that projects to over a window at an operator's failure rates.

Definitions (the report shows them next to the figures):

- **availability** of a protocol = successful probe operations / all probe operations in the run
  (each probe is one user journey step: SMTP accept, IMAP login+select+fetch, POP retrieve,
  webmail login+list — the ``availability`` checker's probes).
- **downtime cost** of a kind of fault = for each fault window of that kind (a fault on a node of a
  tier, from its start to its heal plus ``grace_s``: what the returning server costs counts too —
  a storage node's heal stalled POP3 12 s right after its restart), the longest gap each
  protocol's clients saw overlapping it; the cost of (tier, fault) is the **largest** of those over
  its trials (an upper bound, never the mean).
- **projection** for a window of ``window_days``: Σ over tiers of ``rates[tier]`` (failures of one
  server of that tier per window) × the tier's cost (its worst fault kind), per protocol; held
  against the budget ``(1 - target) × window`` (99.9 % of 30 days: 2592 s = 43.2 min).
- **Data loss is in no budget**: this checker does not see mail; the messages checker fails the
  run on any loss, whatever the uptime.

Outcomes: ``fail`` when a protocol's projected downtime exceeds the budget; ``unknown`` (unless a
failure is proven) when a tier with a non-zero rate had no fault window measured for some
protocol, or when the ``availability`` result had no probes; ``pass`` otherwise.
"""
from __future__ import annotations

from .common import rnd

SECONDS_PER_DAY = 86400.0


def budget_s(target: float, window_days: float) -> float:
    """Downtime a ``target`` availability allows over ``window_days`` (0.999, 30 -> 2592 s)."""
    return round((1.0 - float(target)) * float(window_days) * SECONDS_PER_DAY, 3)


def costs(avail: dict, tier_of: dict[str, str]) -> dict[str, dict[str, dict]]:
    """proto -> tier -> {"fault kind": worst gap (s), ..., "_worst": the tier's worst, "_trials": n},
    from the ``availability`` checker's per-fault-window gaps. Windows on a node of no tier are
    left out; a window whose gap is unknown (no probe answered around it) is left out as well."""
    out: dict[str, dict[str, dict]] = {}
    for proto, d in (avail.get("protos") or {}).items():
        per_tier: dict[str, dict] = {}
        for w in d.get("fault_windows") or []:
            tier = tier_of.get(str(w.get("target")))
            gap = w.get("gap")
            if tier is None or gap is None:
                continue
            t = per_tier.setdefault(tier, {"_trials": 0})
            t["_trials"] += 1
            t[w["fault"]] = max(t.get(w["fault"], 0.0), float(gap))
            t["_worst"] = max(t.get("_worst", 0.0), float(gap))
        out[proto] = per_tier
    return out


def project(avail: dict, tier_of: dict[str, str], rates: dict[str, float], *, target: float = 0.999,
            window_days: float = 30.0) -> dict:
    """The projection for every protocol of ``avail`` (see the module docstring)."""
    budget = budget_s(target, window_days)
    cost = costs(avail, tier_of)
    protos, failures, unmeasured = {}, [], []
    for proto in sorted(cost):
        per_tier = cost[proto]
        terms, missing = {}, []
        for tier, rate in sorted(rates.items()):
            if not rate:
                continue
            c = per_tier.get(tier)
            if c is None:
                missing.append(tier)
                continue
            terms[tier] = {"rate": rate, "cost_s": rnd(c["_worst"]), "trials": c["_trials"],
                           "downtime_s": rnd(rate * c["_worst"]),
                           "by_fault": {k: rnd(v) for k, v in sorted(c.items()) if not k.startswith("_")}}
        projected = sum(t["downtime_s"] for t in terms.values())
        d = (avail.get("protos") or {}).get(proto) or {}
        protos[proto] = {"terms": terms, "projected_downtime_s": rnd(projected), "budget_s": rnd(budget),
                         "projected_availability": rnd(1 - projected / (window_days * SECONDS_PER_DAY)),
                         "run_availability": ((d.get("availability") or {}).get("value")),
                         "unmeasured_tiers": missing}
        if projected > budget:
            worst = max(terms.items(), key=lambda kv: kv[1]["downtime_s"])
            failures.append(f"{proto}: projected {projected / 60:.1f} min of downtime in {window_days:g} days > "
                            f"{budget / 60:.1f} min budget of {target:.1%} (largest: {worst[0]}, "
                            f"{worst[1]['rate']:g} failures × {worst[1]['cost_s']} s)")
        if missing:
            unmeasured.append(f"{proto}: no fault measured on tier {', '.join(missing)}")
    if not any(rates.values()):
        unmeasured.append("no failure rate stated for any tier: nothing to project")
    if failures:
        valid = "fail"
    elif unmeasured or not protos:
        valid = "unknown"
    else:
        valid = "pass"
    return {"valid": valid, "reasons": failures + unmeasured if valid != "pass" else [],
            "target": target, "window_days": window_days, "budget_s": rnd(budget), "rates": dict(rates),
            "protos": protos}


def check(events, *, tier_of: dict[str, str] | None = None, rates: dict[str, float] | None = None, target: float = 0.999,
          window_days: float = 30.0, bound_s=None, protos=None, grace_s: float = 5.0) -> dict:
    """Runs the ``availability`` checker on ``events`` (fault windows extended by ``grace_s`` past
    their heal) and projects its fault windows."""
    from . import availability

    a = availability.check(events, protos=protos, bound_s=bound_s, max_broken_ratio=1.0, fault_grace_s=grace_s)
    out = project(a, tier_of or {}, rates or {}, target=target, window_days=window_days)
    if a.get("valid") == "unknown" and out["valid"] == "pass":
        out["valid"] = "unknown"
        out["reasons"] = list(a.get("reasons") or ["the availability checker could not decide"])
    return out
