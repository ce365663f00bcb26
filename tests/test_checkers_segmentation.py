"""The ``segmentation`` checker: front ends open, inner layers closed — and a probe that did not
run is unknown, never a closed port (issue 10 path 13)."""
from harness.checkers import run_checker

from tests.histories_proxy import HP

FRONT = {"10.241.0.200:143": "front", "10.241.0.11:143": "front"}
INNER = {"10.242.0.21:143": "be1", "10.242.0.10:389": "ldap"}


def segmented(*, inner_open=(), routed_open=(), front_open=tuple(FRONT), **kw) -> HP:
    h = HP().connect("front", FRONT, list(front_open), at=1.0).connect("inner", INNER, list(inner_open), at=4.0)
    for k, px in enumerate(("proxy1", "proxy2")):
        h.route(px, at=7.0 + 4 * k)
        h.connect(f"inner-via-{px}", INNER, list(routed_open) if px == "proxy2" else [], at=8.0 + 4 * k)
    return h


def check(h: HP, **options) -> dict:
    options.setdefault("proxies", ["proxy1", "proxy2"])
    return run_checker("segmentation", h.events, **options)


def test_front_open_inner_closed_passes():
    r = check(segmented())
    assert r["valid"] == "pass", r["reasons"]
    assert r["numbers"]["front_ports_open"] == {"value": 2, "threshold": 2, "unit": "", "op": ">="}
    assert r["numbers"]["inner_ports_tried"]["value"] == 6
    assert r["numbers"]["inner_ports_open"]["value"] == 0


def test_an_inner_port_that_opens_fails_directly_or_routed():
    r = check(segmented(inner_open=["10.242.0.10:389"]))
    assert r["valid"] == "fail" and r["reasons"] == ["10.242.0.10:389 (ldap) opens from the client network"]
    r = check(segmented(routed_open=["10.242.0.21:143"]))
    assert r["reasons"] == ["10.242.0.21:143 via proxy2 (be1) opens from the client network"]


def test_a_failed_docker_exec_is_unknown_never_closed():
    h = HP().connect("front", FRONT, list(FRONT), at=1.0)
    h.connect("inner", INNER, [], at=4.0, ok=False, error="Error response from daemon: container is not running")
    for k, px in enumerate(("proxy1", "proxy2")):
        h.route(px, at=7.0 + 4 * k).connect(f"inner-via-{px}", INNER, [], at=8.0 + 4 * k)
    r = check(h)
    assert r["valid"] == "unknown"
    assert "inner: the connects did not run" in r["reasons"][0]


def test_targets_without_an_answer_are_unknown():
    h = HP().connect("front", FRONT, list(FRONT), at=1.0)
    h.connect("inner", INNER, [], at=4.0, unanswered=("10.242.0.10:389",))
    for k, px in enumerate(("proxy1", "proxy2")):
        h.route(px, at=7.0 + 4 * k).connect(f"inner-via-{px}", INNER, [], at=8.0 + 4 * k)
    r = check(h)
    assert r["valid"] == "unknown" and "1 targets had no answer" in r["reasons"][0]


def test_front_closed_proves_nothing():
    r = check(segmented(front_open=["10.241.0.11:143"]))
    assert r["valid"] == "unknown" and "the front ends do not answer" in r["reasons"][0]
    # ... unless an inner port opened anyway
    assert check(segmented(front_open=[], inner_open=["10.242.0.21:143"]))["valid"] == "fail"


def test_a_route_that_could_not_be_set_or_a_missing_layer_is_unknown():
    h = HP().connect("front", FRONT, list(FRONT), at=1.0).connect("inner", INNER, [], at=4.0)
    h.route("proxy1", at=7.0, ok=False)
    h.route("proxy2", at=9.0).connect("inner-via-proxy2", INNER, [], at=10.0)
    r = check(h)
    assert r["valid"] == "unknown"
    assert any("routing through proxy1 could not be set up" in x for x in r["reasons"])
    assert any("not tried: inner-via-proxy1" in x for x in r["reasons"])
    assert check(HP())["valid"] == "unknown"


def test_a_node_whose_addresses_were_not_read_is_unknown():
    h = segmented()
    h.op("segment-inspect", "addresses", {"node": "be2"}, at=0.5, ok=False, error="no address")
    r = check(h)
    assert r["valid"] == "unknown" and r["reasons"][0].startswith("the addresses of be2 were not read")
