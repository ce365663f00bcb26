"""The uptime checker: fault windows' costs projected over a window at stated failure rates."""
from harness.checkers import uptime


def avail(*windows, proto="imap", availability=0.99):
    return {"valid": "pass", "protos": {proto: {
        "availability": {"value": availability},
        "fault_windows": [{"id": f"f{i}", "fault": f, "target": t, "gap": g} for i, (f, t, g) in enumerate(windows)]}}}


TIERS = {"lb1": "lb", "lb2": "lb", "fe1": "frontend", "fe2": "frontend"}


def test_budget_of_999_over_30_days_is_43_2_minutes():
    assert uptime.budget_s(0.999, 30) == 2592.0


def test_cost_is_the_worst_trial_of_each_tier_and_the_projection_sums_rate_times_cost():
    r = uptime.project(avail(("kill", "lb1", 2.0), ("kill", "lb2", 3.0), ("pause", "fe1", 5.0), ("kill", "fe2", 1.0)),
                       TIERS, {"lb": 4, "frontend": 10})
    imap = r["protos"]["imap"]
    assert imap["terms"]["lb"]["cost_s"] == 3.0 and imap["terms"]["frontend"]["cost_s"] == 5.0
    assert imap["terms"]["frontend"]["by_fault"] == {"kill": 1.0, "pause": 5.0}
    assert imap["projected_downtime_s"] == 4 * 3.0 + 10 * 5.0
    assert imap["run_availability"] == 0.99
    assert r["valid"] == "pass"


def test_a_projection_over_budget_fails_naming_the_largest_term():
    r = uptime.project(avail(("kill", "lb1", 700.0), ("kill", "fe1", 1.0)), TIERS, {"lb": 4, "frontend": 4})
    assert r["valid"] == "fail"
    assert "lb, 4 failures × 700.0 s" in r["reasons"][0]


def test_a_tier_with_a_failure_rate_and_no_fault_measured_is_unknown_never_pass():
    r = uptime.project(avail(("kill", "lb1", 1.0)), TIERS, {"lb": 4, "frontend": 4})
    assert r["valid"] == "unknown"
    assert "no fault measured on tier frontend" in r["reasons"][0]


def test_a_tier_with_rate_zero_needs_no_measurement_and_a_window_of_no_tier_is_ignored():
    r = uptime.project(avail(("kill", "lb1", 1.0), ("kill", "client", 99.0)), TIERS, {"lb": 4, "frontend": 0})
    assert r["valid"] == "pass" and r["protos"]["imap"]["projected_downtime_s"] == 4.0


def test_no_probes_at_all_is_unknown():
    assert uptime.project({"protos": {}}, TIERS, {"lb": 1})["valid"] == "unknown"


def test_the_check_extends_each_fault_window_by_the_grace_so_a_returning_server_counts():
    """A gap that starts just after a heal (a storage node's return) is charged to that fault."""
    from harness.history import Event

    def op(i, t, typ, proc, f, value, node=None, **kw):
        return Event(i=i, t=t, type=typ, proc=proc, f=f, value=value, node=node, **kw)
    ev, i = [], 0
    for k in range(0, 60):
        t = k * 0.5
        if 12.0 < t < 20.0:  # nothing answers from 12 s to 20 s: after the heal at 10 s
            continue
        ev.append(op(i, t, "invoke", "probe-imap-0", "probe", {"proto": "imap"})); i += 1
        ev.append(op(i, t + 0.01, "ok", "probe-imap-0", "probe", {"proto": "imap"}, node="fe1")); i += 1
    ev.append(op(i, 5.0, "invoke", "nemesis", "fault", {"id": "f1", "fault": "kill", "target": "nas1"})); i += 1
    ev.append(op(i, 5.1, "ok", "nemesis", "fault", {"id": "f1", "confirmed": "x"})); i += 1
    ev.append(op(i, 10.0, "invoke", "nemesis-f1", "heal", {"id": "f1"})); i += 1
    ev.append(op(i, 10.1, "ok", "nemesis-f1", "heal", {"id": "f1"})); i += 1
    ev.sort(key=lambda e: e.t)
    tiers = {"nas1": "nas"}
    without = uptime.check(ev, tier_of=tiers, rates={"nas": 1}, grace_s=0.0)
    with_grace = uptime.check(ev, tier_of=tiers, rates={"nas": 1}, grace_s=5.0)
    assert with_grace["protos"]["imap"]["terms"]["nas"]["cost_s"] > 7.0
    assert without["protos"]["imap"]["terms"]["nas"]["cost_s"] < 1.0
