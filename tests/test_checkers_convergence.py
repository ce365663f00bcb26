"""The ``convergence`` checker: replicas identical in time after every heal or restart."""
from harness.checkers import run_checker

from tests.histories import H, as_json

B = "mirror-b"


def conv(h: H, **options) -> dict:
    return run_checker("convergence", h.events, **options)


def test_resync_with_start_up_hook_passes():
    h = H().fault("r1", "kill", B, at=10.0, heal_at=50.0).converge("r1", 1.32, at=50.1)
    r = conv(h, bound_s=30)
    assert r["valid"] == "pass", r["reasons"]
    assert r["max_s"] == {"value": 1.32, "threshold": 30.0, "unit": "s", "op": "<="}
    assert r["converges"][0]["fault"] == "kill"


def test_restarted_node_waits_for_the_five_minute_retry():
    # without the hook the survivor retries after 300 s: identical after 275 s
    h = H().fault("r1", "stop", B, at=10.0, heal_at=50.0).converge("r1", 275.0, at=50.1)
    r = conv(h)
    assert r["valid"] == "fail"
    assert r["reasons"] == ["replicas identical 275.0 s after r1 (stop mirror-b) > 30.0 s"]


def test_symmetric_partition_never_converges():
    # equal-count divergence: the incremental sync skips the mailbox, never identical
    h = H().fault("p1", "partition", B, at=10.0, heal_at=70.0)
    h.converge("p1", 30.0, at=70.1, ok=False)
    r = conv(h)
    assert r["valid"] == "fail"
    assert r["reasons"][0].startswith("replicas never identical after p1 (partition mirror-b)")
    assert r["converges"][0]["type"] == "fail"


def test_reported_not_identical_fails():
    h = H().converge("p1", 2.0, at=1.0, identical=False)
    assert conv(h)["valid"] == "fail"


def test_every_heal_is_judged():
    h = H().converge("f1", 0.8, at=10.0).converge("f2", 45.0, at=100.0).converge("f3", 1.0, at=200.0)
    r = conv(h)
    assert r["valid"] == "fail" and r["count"] == 3 and r["max_s"]["value"] == 45.0
    assert conv(h, bound_s=60)["valid"] == "pass"


def test_no_converge_ops_is_unknown():
    assert conv(H().fault("f1", "kill", B, at=1.0, heal_at=2.0))["valid"] == "unknown"


def test_deterministic():
    h = H().converge("f1", 0.8, at=10.0).converge("f2", 45.0, at=100.0, ok=None)
    assert as_json(conv(h)) == as_json(conv(h))
