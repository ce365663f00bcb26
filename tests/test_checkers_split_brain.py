"""The ``split_brain`` checker: at most one VIP holder at any instant."""
from harness.checkers import run_checker

from tests.histories import H, as_json

A, B = "mirror-a", "mirror-b"


def split(h: H, **options) -> dict:
    return run_checker("split_brain", h.events, **options)


def test_clean_failover_has_one_holder_and_a_short_hole():
    h = H().vips(lambda t: [A] if t < 10.0 else ([] if t < 10.4 else [B]), start=0.0, end=20.0)
    r = split(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["max_holders"] == 1
    assert r["dual_holder_s"] == 0.0
    v = r["vips"]["10.231.0.200"]
    assert v["no_holder_s"] == 0.4 and v["longest_no_holder_s"] == 0.4
    assert v["held_s"] == {A: 10.0, B: 9.6}


def test_heartbeat_only_over_the_crossover_gives_two_holders():
    # the crossover cable is cut: B stops hearing A's adverts and takes the VIP too
    h = H().vips(lambda t: [A, B] if 10.0 <= t < 15.0 else [A], start=0.0, end=20.0)
    r = split(h)
    assert r["valid"] == "fail"
    assert r["max_holders"] == 2
    assert r["dual_holder_s"] == 5.0
    assert r["vips"]["10.231.0.200"]["dual_intervals"] == [
        {"start": 10.01, "end": 15.01, "seconds": 5.0, "holders": [A, B]}]
    assert r["reasons"][0].startswith("VIP 10.231.0.200 held by 2 nodes at once (mirror-a, mirror-b from t=10.01 for 5.0 s)")


def test_vrrp_handover_overlap_is_not_split_brain_but_is_reported():
    # failback: the recovered master adds the VIP 20 ms before the old one drops it
    h = H().vip([B], at=0.0).vip([A, B], at=5.0).vip([A], at=5.02).vip([A], at=9.0)
    r = split(h, min_ok=1)
    assert r["valid"] == "pass"
    assert r["handovers"] == 1 and r["longest_handover_s"] == 0.02
    assert r["max_holders"] == 2 and r["split_brain_s"] == 0.0
    # with no tolerance the same overlap is judged
    assert split(h, handover_s=0, min_ok=1)["valid"] == "fail"


def test_overlap_longer_than_a_handover_is_split_brain():
    h = H().vip([B], at=0.0).vip([A, B], at=5.0).vip([A], at=5.8).vip([A], at=9.0)
    r = split(h, handover_s=0.5, min_ok=1)
    assert r["valid"] == "fail" and r["split_brain_s"] == 0.8


def test_two_vips_are_judged_separately():
    h = H()
    for n in range(50):
        t = n * 0.1
        h.vip([A], at=t, vip="10.231.0.200").vip([B] if t < 3 else [A, B], at=t + 0.05, vip="10.231.0.201")
    r = split(h)
    assert r["valid"] == "fail"
    assert r["vips"]["10.231.0.200"]["max_holders"] == 1
    assert r["vips"]["10.231.0.201"]["max_holders"] == 2


def test_too_few_observations_is_unknown_but_evidence_still_fails():
    assert split(H().vip([A], at=0.0).vip([A], at=0.1))["valid"] == "unknown"
    assert split(H())["valid"] == "unknown"
    assert split(H().vip([A], at=0.0).vip([A, B], at=0.1))["valid"] == "fail"


def test_failed_observations_are_counted_not_used():
    h = H().vips(lambda t: [A], start=0.0, end=1.0).vip([A, B], at=1.5, ok=False)
    r = split(h)
    assert r["valid"] == "pass" and r["failed_observations"] == 1


def test_deterministic():
    h = H().vips(lambda t: [A, B] if 1 < t < 2 else [A], start=0.0, end=3.0)
    assert as_json(split(h)) == as_json(split(h))
