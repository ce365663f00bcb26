"""The ``load`` checker: share of sessions per node, and the measured load-sharing value."""
import pytest

from harness.checkers import run_checker

from tests.histories import H, as_json

NODES = ["store-1", "store-2", "store-3"]


def round_robin(h: H, proto: str, nodes, n=30) -> H:
    for k in range(n):
        h.probe(proto, at=k * 0.1, node=nodes[k % len(nodes)])
    return h


def load(h: H, **options) -> dict:
    return run_checker("load", h.events, **options)


def test_load_balancer_spreads_every_protocol():
    h = H()
    for p in ("imap", "pop3", "smtp"):
        round_robin(h, p, NODES)
    r = load(h, expect="Yes")
    assert r["valid"] == "pass", r["reasons"]
    assert r["measured"] == "Yes"
    assert r["protos"]["imap"]["nodes"]["store-1"] == {"count": 10, "share": 0.333333, "within_band": True}
    assert r["protos"]["imap"]["fair_share"] == 0.333333
    assert r["overall"]["ops"] == 90


def test_single_active_mirror_puts_everything_on_one_node():
    h = H()
    for p in ("imap", "smtp"):
        round_robin(h, p, ["mirror-a"])
    r = load(h, nodes=["mirror-a", "mirror-b"], expect="Some")
    assert r["measured"] == "No"
    assert r["valid"] == "fail"
    assert r["protos"]["imap"]["nodes"]["mirror-b"] == {"count": 0, "share": 0.0, "within_band": False}
    assert load(h, expect="No")["valid"] == "pass"
    assert load(h)["valid"] == "pass"  # no expectation: measured only


def test_some_protocols_shared():
    h = round_robin(H(), "imap", NODES)
    round_robin(h, "smtp", ["store-1"])
    r = load(h, nodes={"imap": NODES, "smtp": NODES})
    assert r["measured"] == "Some"
    assert r["protos"]["smtp"]["used"] == 1
    assert load(h, expect="Yes")["valid"] == "fail"


def test_skewed_balancer_is_outside_the_band():
    # sticky sessions: 90 % on one node
    h = H()
    for k in range(40):
        h.session("imap", start=k * 0.1, end=k * 0.1 + 0.05, node="store-1" if k % 10 else "store-2")
    r = load(h)
    assert r["protos"]["imap"]["nodes"]["store-1"]["share"] == 0.9
    assert r["protos"]["imap"]["spread"] is False
    assert r["measured"] == "Some"
    assert load(h, band=0.9)["measured"] == "Yes"  # band 0.9: shares within 0.05 .. 0.95


def test_idle_node_given_in_nodes_breaks_the_spread():
    h = round_robin(H(), "imap", NODES[:2])
    assert load(h)["measured"] == "Yes"
    assert load(h, nodes=NODES)["measured"] == "Some"


def test_failed_ops_and_other_functions_do_not_count():
    h = round_robin(H(), "imap", NODES)
    h.probe("imap", False, at=10.0).send("t1", at=11.0, node="store-1")
    r = load(h)
    assert r["ops"] == 30


def test_too_few_ops_is_unknown():
    r = load(round_robin(H(), "imap", NODES, n=3), expect="Yes")
    assert r["valid"] == "unknown" and r["measured"] is None
    assert r["insufficient"] == ["imap"]
    assert load(H())["valid"] == "unknown"


def test_bad_expectation_is_a_usage_error():
    with pytest.raises(ValueError):
        load(H(), expect="Maybe")


def test_deterministic():
    h = round_robin(round_robin(H(), "imap", NODES), "pop3", NODES[:1])
    assert as_json(load(h, expect="Some")) == as_json(load(h, expect="Some"))
