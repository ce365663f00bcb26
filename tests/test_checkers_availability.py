"""The ``availability`` checker: failover gaps per protocol through the VIP."""
import pytest

from harness.checkers import run_checker

from tests.histories import H, as_json

A, B = "mirror-a", "mirror-b"


def holder(switch_at: float):
    return lambda t: A if t < switch_at else B


def failover(down=(10.0, 10.42), end=20.0, protos=("imap",), heal=15.0) -> H:
    """A clean kill of A at 10 s: probes fail while VRRP moves the VIP, then B answers."""
    h = H().fault("k1", "kill", A, at=9.9, heal_at=heal)
    for p in protos:
        h.probes(p, start=0.0, end=end, node=holder(down[1]), down=[down])
    return h


def avail(h: H, **options) -> dict:
    return run_checker("availability", h.events, **options)


def test_fast_vrrp_failover_passes():
    r = avail(failover())
    assert r["valid"] == "pass", r["reasons"]
    imap = r["protos"]["imap"]
    assert imap["probes"] == 201 and imap["failed"] == 5
    # last ok from A ends 9.92, first ok from B (probe at 10.5) ends 10.52
    assert imap["longest_gap"] == {"value": 0.6, "threshold": 2.0, "unit": "s", "op": "<="}
    assert imap["longest_gap_at"] == {"start": 9.92, "end": 10.52, "before": A, "after": B}
    assert imap["answered_by"] == {A: 100, B: 96}
    assert imap["errors"] == {"connection refused": 5}
    [w] = imap["fault_windows"]
    assert (w["id"], w["fault"], w["target"], w["gap"], w["failed"]) == ("k1", "kill", A, 0.6, 5)
    assert imap["availability"]["value"] == round(196 / 201, 6)


def test_vip_stuck_on_dead_node_fails():
    # VRRP never moves the VIP: every probe after the kill fails until the end of the window
    h = H().fault("k1", "kill", A, at=9.9, heal_at=30.0)
    h.probes("imap", start=0.0, end=20.0, node=A, down=[(10.0, 99.0)])
    r = avail(h)
    assert r["valid"] == "fail"
    imap = r["protos"]["imap"]
    assert imap["longest_gap"]["value"] == 10.1  # 9.92 .. last probe's end 20.02, the window edge
    assert imap["longest_gap_at"]["after"] is None
    assert imap["fault_windows"][0]["gap"] == 10.1
    assert "imap: longest gap 10.1 s > 2.0 s" in r["reasons"]


def test_slow_vrrpv2_failover_breaks_no_interruption_but_not_stops_responding():
    h = failover(down=(10.0, 12.93))
    assert avail(h)["valid"] == "fail"
    assert avail(h)["protos"]["imap"]["longest_gap"]["value"] == 3.1
    # the uptime floor is on by default: a 3 s gap costs 15 % of this 20 s window, so a caller
    # judging 'for a period' (5 s) passes the floor that goes with its bound
    assert avail(h, bound_s=5.0)["reasons"] == ["imap: availability 0.850746 < 0.9"]
    assert avail(h, bound_s=5.0, min_availability=0.8)["valid"] == "pass"


def test_failing_probes_at_the_window_start_count_as_a_gap():
    h = H().probes("imap", start=0.0, end=10.0, node=B, down=[(0.0, 3.0)])
    r = avail(h)
    assert r["protos"]["imap"]["longest_gap"]["value"] == 3.02  # first probe start 0.0 .. first ok end
    assert r["protos"]["imap"]["longest_gap_at"]["before"] is None
    assert r["valid"] == "fail"


def test_concurrent_probers_measure_between_ok_completions():
    # probe-imap-0..9 run concurrently (a hung probe must not lower the rate): a slow ok that
    # started first and a fast one that ended first open no gap at the window edge
    h = H()
    for k in range(50):
        h.op(f"probe-imap-{k % 10}", "probe", {"proto": "imap", "target": "vip"}, at=k * 0.1,
             dur=0.5 if k == 0 else 0.02, node=A, result={"proto": "imap"})
    imap = avail(h)["protos"]["imap"]
    assert imap["longest_gap"]["value"] == 0.1
    assert imap["longest_gap_at"]["before"] == A


def test_uptime_floor():
    assert avail(failover(), min_availability=0.999)["valid"] == "fail"
    clean = H().probes("http", start=0.0, end=10.0)
    r = avail(clean, min_availability=0.999)
    assert r["valid"] == "pass"
    assert r["protos"]["http"]["availability"] == {"value": 1.0, "threshold": 0.999, "unit": "", "op": ">="}


def test_one_protocol_broken_by_the_failover():
    # IMAP fails over in 0.4 s, but the daemon check misses SMTP: it stays down 8 s
    h = failover(protos=("imap",))
    h.probes("smtp", start=0.0, end=20.0, node=holder(18.0), down=[(10.0, 18.0)])
    r = avail(h)
    assert r["valid"] == "fail"
    assert r["protos"]["imap"]["longest_gap"]["value"] == 0.6
    assert r["reasons"] == ["smtp: longest gap 8.1 s > 2.0 s", "smtp: availability 0.60199 < 0.9"]
    assert avail(h, protos=["imap"])["valid"] == "pass"


def test_sessions_broken_by_failover():
    h = failover()
    for n in range(10):
        h.session("imap", n >= 6, start=1.0 + n * 0.1, end=10.1 if n < 6 else 19.0)
    h.session("imap", "pending", start=2.0, end=3.0)  # never completed: its outcome is unknown
    r = avail(h, max_broken_ratio=0.5)
    assert r["valid"] == "fail"
    s = r["protos"]["imap"]["sessions"]
    assert (s["sessions"], s["ended"], s["broken"], s["unfinished"]) == (11, 10, 6, 1)
    assert s["broken_ratio"] == {"value": 0.6, "threshold": 0.5, "unit": "", "op": "<="}
    assert s["errors"] == {"disconnected": 6}
    # the bound is on by default (threshold broken_sessions_ratio = 0.5); it used to be off
    assert avail(h)["valid"] == "fail" and avail(h)["protos"]["imap"]["sessions"]["broken_ratio"]["threshold"] == 0.5
    r = avail(h, max_broken_ratio=0.6)
    assert r["valid"] == "unknown" and "1 sessions never completed" in r["reasons"][0]


def test_too_few_probes_is_unknown_and_missing_protocol_too():
    assert avail(H().probes("imap", start=0.0, end=0.3))["valid"] == "unknown"
    r = avail(failover(), protos=["imap", "pop3"])
    assert r["valid"] == "unknown" and "pop3" in r["reasons"][0]


def test_never_completed_probe_counts_as_failed():
    h = H().probes("imap", start=0.0, end=1.0).probe("imap", "pending", at=1.05)
    imap = avail(h)["protos"]["imap"]
    assert (imap["probes"], imap["ok"], imap["failed"]) == (12, 11, 1)
    assert imap["errors"] == {"never completed": 1}


def test_window_selects_the_steady_state():
    h = failover(down=(10.0, 14.0))
    assert avail(h)["valid"] == "fail"
    r = run_checker("availability", h.events, window=(0.0, 9.0))
    assert r["valid"] == "pass"
    assert r["protos"]["imap"]["fault_windows"] == []  # the fault was invoked after the window


@pytest.mark.parametrize("down", [(10.0, 10.42), (10.0, 99.0)])
def test_deterministic(down):
    assert as_json(avail(failover(down=down))) == as_json(avail(failover(down=down)))
