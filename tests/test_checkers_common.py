"""Shared checker helpers and properties every registered checker must have."""
import json

import pytest

from harness.checkers import CHECKERS, run_checker
from harness.checkers.common import nearest_rank, quantiles, rnd, touches, verdict, window_events

from tests.histories import H, as_json, box


@pytest.mark.parametrize("p, expected", [(5, 15), (30, 20), (40, 20), (50, 35), (100, 50), (0, 15)])
def test_nearest_rank_textbook_example(p, expected):
    # the worked example of the nearest-rank method: 5 values
    assert nearest_rank([50, 15, 40, 20, 35], p) == expected


def test_nearest_rank_is_a_sample_and_exact_at_integer_ranks():
    xs = list(range(1, 101))
    assert nearest_rank(xs, 7) == 7
    # 2.2 * 1500 / 100 is 33.00000000000001 in floating point: still rank 33, not 34
    assert nearest_rank(range(1, 1501), 2.2) == 33
    assert nearest_rank(xs, 99) == 99
    assert nearest_rank(xs, 99.5) == 100
    assert nearest_rank([0.3], 99) == 0.3
    assert nearest_rank([], 50) is None
    assert nearest_rank(range(1, 11), 50) == 5 and nearest_rank(range(1, 11), 90) == 9
    with pytest.raises(ValueError):
        nearest_rank(xs, 101)


def test_quantiles_are_rounded_and_ordered():
    q = quantiles([0.1234567891, 0.2, 0.3])
    assert q == {"count": 3, "min": 0.123457, "p50": 0.2, "p90": 0.3, "p99": 0.3, "max": 0.3}
    assert quantiles([]) == {"count": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None}


def test_rnd_keeps_json_valid():
    assert rnd(float("nan")) is None and rnd(float("inf")) is None and rnd(None) is None
    assert str(rnd(-0.0000001)) == "0.0"


def test_touching_intervals():
    assert touches((0, 2), (2, 5)) and touches((1, 3), (0, 9)) and not touches((0, 1), (1.5, 3))


def test_verdict_never_passes_on_too_little_evidence():
    assert verdict([], ok=4, min_ok=5)["valid"] == "unknown"
    assert verdict([], ok=5, min_ok=5)["valid"] == "pass"
    assert verdict(["x"], ok=0, min_ok=5)["valid"] == "fail"
    assert verdict([], ok=100, min_ok=5, missing="no final reads")["valid"] == "unknown"


def test_window_keeps_ops_invoked_inside_with_late_completions():
    h = H().send("a", at=1.0, dur=5.0).send("b", at=4.0).send("c", at=9.0)
    evs = window_events(h.events, (0.5, 5.0))
    assert [(e.type, e.proc, e.t) for e in evs] == [
        ("invoke", "smtp-0", 1.0), ("invoke", "smtp-1", 4.0), ("ok", "smtp-1", 4.05), ("ok", "smtp-0", 6.0)]
    # a's completion (at 6.0) falls inside (2, 7) but its invoke does not: dropped, not an orphan
    assert [(e.type, e.proc) for e in window_events(h.events, (2.0, 7.0))] == [("invoke", "smtp-1"), ("ok", "smtp-1")]


CORE = ["availability", "convergence", "faults", "lag", "load", "messages", "replicas", "sessions", "split_brain"]


def test_every_checker_is_registered_and_importable():
    import importlib

    assert set(CORE) <= set(CHECKERS)
    for name, module in CHECKERS.items():  # design-specific checkers too (e.g. the proxy's)
        assert callable(importlib.import_module(f"harness.checkers.{module}").check), name
    with pytest.raises(KeyError):
        run_checker("nope", [])


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_every_checker_says_unknown_on_an_empty_history(name):
    r = run_checker(name, [])
    assert r["valid"] == "unknown"
    assert r["checker"] == name
    json.loads(as_json(r))  # serialisable, no NaN


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_every_checker_rejects_unknown_options(name):
    with pytest.raises(TypeError):
        run_checker(name, [], no_such_option=1)


def _scenario() -> H:
    """Everything a mirror failover test records: workload, probes, sessions, observers, faults."""
    a, b = "mirror-a", "mirror-b"
    toks = [f"mh-s-{n}" for n in range(12)]
    h = H(test="suites/mirror/test_failover.py::test_kill", design="mirror")
    h.fault("f1", "kill", a, at=5.0, heal_at=12.0, confirmed="container exited, IMAP refused")
    h.sends(toks, start=0.5, every=0.9).send("mh-s-x", None, at=5.05)
    h.read(box(*toks[:4]), at=4.0, node=a).read(box(*toks[:8]), at=8.0, node=b)
    h.probes("imap", start=0.0, end=15.0, node=lambda t: a if t < 5.4 else b, down=[(5.0, 5.4)])
    h.session("imap", False, start=1.0, end=5.1).session("imap", start=1.0, end=14.0, node=b)
    h.vips(lambda t: [a] if t < 5.0 else ([] if t < 5.4 else [b]), start=0.0, end=15.0)
    for n in range(6):
        h.lag(0.05 + n / 100, at=0.2 + n)
    h.converge("f1", 1.3, at=12.2)
    final = {"user1@example.test": {"INBOX": box(*toks)}}
    return h.final_read(a, final, at=20.0).final_read(b, final, at=20.0)


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_stored_history_reproduces_every_verdict_byte_for_byte(name, tmp_path):
    from harness.history import load

    h = _scenario()
    path = tmp_path / "history.jsonl"
    path.write_text(h.jsonl())
    test = "suites/mirror/test_failover.py::test_kill"
    live = as_json(run_checker(name, h.events, test=test, design="mirror", window=(0.0, 30.0)))
    again = as_json(run_checker(name, h.events, test=test, design="mirror", window=(0.0, 30.0)))
    stored = as_json(run_checker(name, load(path), test=test, design="mirror", window=[0.0, 30.0]))
    assert live == again == stored
    assert json.loads(live)["valid"] in ("pass", "fail", "unknown")


def test_the_scenario_passes_what_a_healthy_mirror_should():
    events = _scenario().events
    verdicts = {n: run_checker(n, events)["valid"] for n in CORE}
    assert verdicts == {n: "pass" for n in CORE}
