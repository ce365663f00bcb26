"""Topology.users_of / holder_of: data nodes that hold only some users (the proxy design's back
ends), and nodes without the key holding everybody (the mirror)."""
from types import SimpleNamespace

from harness.topology import Topology


def topo(nodes: dict) -> Topology:
    meta = {"domain": "example.test", "users": {"prefix": "user", "count": 6, "password": "pw-{user}"},
            "nodes": nodes}
    return Topology(SimpleNamespace(meta=meta, design="x"))


def test_node_without_users_holds_everybody():
    t = topo({"a": {"data": True}, "b": {"data": True}})
    assert list(t.users_of("a")) == [f"user{i}@example.test" for i in range(1, 7)]
    assert t.holder_of("user3@example.test") == ["a", "b"]


def test_ranges_and_single_indices_pick_the_workload_users_by_number():
    t = topo({"be1": {"data": True, "users": "1-2,5"}, "be2": {"data": True, "users": "3-4, 6"}, "px": {}})
    assert sorted(t.users_of("be1")) == ["user1@example.test", "user2@example.test", "user5@example.test"]
    assert t.users_of("be2")["user6@example.test"] == "pw-user6"
    assert t.holder_of("user4@example.test") == ["be2"]
    assert t.holder_of("user9@example.test") == []


def test_nothing_to_converge_when_no_user_is_on_two_data_nodes():
    from harness.history import History
    from harness.observers import wait_converged

    t = topo({"be1": {"data": True, "users": "1-3"}, "be2": {"data": True, "users": "4-6"}})
    h = History()
    res = wait_converged(t, h, after="end", deadline_s=0.1)
    # nothing was compared, so nothing is claimed identical; the op says so (the convergence checker
    # then answers unknown instead of a vacuous pass)
    assert res == {"seconds": None, "identical": None, "replicated": False}
    assert [e.value.get("replicated") for e in h.snapshot() if e.type == "ok"] == [False]
