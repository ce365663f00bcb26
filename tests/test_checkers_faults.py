"""The ``faults`` checker: every scheduled fault applied, confirmed and healed."""
from harness.checkers import run_checker

from tests.histories import H, as_json

A, B = "mirror-a", "mirror-b"


def faults(h: H, **options) -> dict:
    return run_checker("faults", h.events, **options)


def test_applied_and_healed_faults_pass():
    h = H().fault("f1", "kill", A, at=1.0, heal_at=5.0).fault("f2", "partition", "xover", at=10.0, heal_at=20.0)
    r = faults(h)
    assert r["valid"] == "pass", r["reasons"]
    assert (r["scheduled"], r["applied"], r["healed"]) == (2, 2, 2)
    assert r["faults"][0] == {"id": "f1", "fault": "kill", "target": A, "start": 1.1, "end": 5.1,
                              "applied": True, "healed": True, "confirmed": None, "heal_confirmed": None,
                              "seconds": 4.0}


def test_confirmation_texts_are_kept():
    h = H().fault("f1", "kill", A, at=1.0, heal_at=5.0, confirmed="container exited, IMAP refused")
    f = faults(h)["faults"][0]
    assert f["applied"] is True and f["confirmed"] == "container exited, IMAP refused"
    assert faults(H().fault("f1", "kill", A, at=1.0, heal_at=5.0, confirmed=""))["valid"] == "fail"


def test_fault_that_could_not_be_applied_fails_the_run():
    # no NET_ADMIN: iptables refuses, the partition never happened
    h = H().fault("f1", "kill", A, at=1.0, heal_at=5.0)
    h.fault("f2", "partition", "xover", at=10.0, ok=False, error="iptables: Permission denied")
    r = faults(h)
    assert r["valid"] == "fail"
    assert r["problems"] == [{"id": "f2", "fault": "partition", "target": "xover", "stage": "apply",
                              "error": "iptables: Permission denied"}]
    assert r["reasons"] == ["apply f2 (partition xover): iptables: Permission denied"]


def test_fault_never_confirmed_or_never_completed_fails():
    h = H().fault("f1", "daemon-kill", A, at=1.0, heal_at=5.0, confirmed=False)
    h.fault("f2", "pause", B, at=10.0, ok="pending")
    r = faults(h)
    assert r["valid"] == "fail"
    assert [(p["id"], p["stage"], p["error"]) for p in r["problems"]] == [
        ("f1", "apply", "not confirmed"), ("f2", "apply", "never completed")]


def test_heal_failed_or_missing():
    h = H().fault("f1", "stop", B, at=1.0, heal_at=5.0, heal_ok=False).fault("f2", "kill", A, at=10.0)
    r = faults(h)
    assert r["valid"] == "fail"
    assert [(p["id"], p["stage"], p["error"]) for p in r["problems"]] == [
        ("f1", "heal", "refused"), ("f2", "heal", "never healed")]
    r = faults(h, require_heal=False)
    assert [p["id"] for p in r["problems"]] == ["f1"]  # a heal that was tried and failed still counts


def test_no_faults_is_unknown():
    assert faults(H().probes("imap", start=0.0, end=1.0))["valid"] == "unknown"


def test_window_keeps_faults_invoked_inside():
    h = H().fault("f1", "kill", A, at=1.0, heal_at=5.0).fault("f2", "kill", B, at=10.0, ok=False)
    assert run_checker("faults", h.events, window=(0.0, 6.0))["valid"] == "pass"
    assert run_checker("faults", h.events, window=(0.0, 11.0))["valid"] == "fail"


def test_deterministic():
    h = H().fault("f1", "kill", A, at=1.0, heal_at=5.0, heal_ok=None).fault("f2", "kill", B, at=10.0, ok=False)
    assert as_json(faults(h)) == as_json(faults(h))
