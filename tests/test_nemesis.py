"""The nemesis on a flaky host, and each fault confirmed for its kind of target: pause retries a
freezer that could not freeze, selectors wait for a VIP holder, a paused LDAP server is confirmed
by an LDAP probe (not IMAP), a NAS by its RPC service, a load balancer by its client endpoint —
and what cannot be done fails, never passes. No Docker: ``docker`` and the probes are faked."""
from types import SimpleNamespace

import pytest

from harness import faults
from harness.errors import FaultError
from harness.history import History
from harness.topology import Topology
from tests.fake_engine import FakeApi

FREEZE_FAIL = ("Error response from daemon: Cannot pause container 1f: OCI runtime pause failed: "
               "unable to freeze: unknown")

META = {
    "endpoints": {"imap": {"host": "10.0.0.200", "port": 143}, "smtp": {"host": "10.0.0.200", "port": 25}},
    "daemons": {"dovecot": {"kill": "k", "start": "s", "status": "st"}},
    "nodes": {"a": {"lan": "10.0.0.1", "data": True}, "b": {"lan": "10.0.0.2", "data": True},
              "lb1": {"lan": "10.0.0.5", "tier": "lb"},
              "ldap": {"lan": "10.0.0.10", "tier": "directory"},
              "nas": {"lan": "10.0.0.20", "tier": "nas"},
              "web": {"lan": "10.0.0.30", "tier": "webmail", "serves": {"proto": "http", "port": 8080, "path": "/"}}},
    "links": {"crossover": {"network": "xover", "nodes": ["a", "b"]}, "lan": {"network": "lan"}},
}


class FakeEngine(FakeApi):
    """``docker pause`` fails ``fails`` times with runc's freezer error, then works; kill, stop
    and start change the state the engine's inspect reports (``tests.fake_engine``)."""

    def __init__(self, fails: int = 0, error: str = FREEZE_FAIL):
        super().__init__(refuse={"pause": [error.removeprefix("Error response from daemon: ")] * fails})


class Probe:
    """Records each probe; ``up`` says whether the probed service answers."""

    def __init__(self, engine):
        self.engine, self.specs = engine, []

    def __call__(self, spec, timeout=3.0):
        self.specs.append(spec)
        if self.engine.state != "running":
            raise ConnectionError(f"{spec['proto']} on {spec['host']}:{spec['port']} did not answer")
        return "ok"


def nemesis(monkeypatch, engine, probe=None):
    monkeypatch.setattr(faults.docker, "api", lambda: engine)
    monkeypatch.setattr(faults.time, "sleep", lambda s: None)
    cluster = SimpleNamespace(dirty=False, meta=META, design="x", container=lambda svc: f"c-{svc}",
                              wait_ready=lambda **k: None)
    return faults.Nemesis(cluster, Topology(cluster), History(), probe=probe or Probe(engine))


def confirmed(nem):
    return [e.value["confirmed"] for e in nem.h.events if e.type == "ok" and e.f in ("fault", "heal")]


# ------------------------------------------------------------------ the pause retry

def test_pause_is_retried_when_the_freezer_could_not_freeze(monkeypatch):
    eng = FakeEngine(fails=2)
    nem = nemesis(monkeypatch, eng)
    fid = nem.apply("pause", "a")
    assert eng.calls.count("pause") == 3
    assert "try 3" in confirmed(nem)[0]
    assert fid in nem.active


def test_pause_that_never_freezes_fails_the_fault(monkeypatch):
    eng = FakeEngine(fails=99)
    nem = nemesis(monkeypatch, eng)
    with pytest.raises(FaultError, match="unable to freeze.*after 6 tries"):
        nem.apply("pause", "a")
    assert eng.calls.count("pause") == faults.Nemesis.PAUSE_TRIES
    assert not nem.active


def test_other_pause_errors_are_not_retried(monkeypatch):
    eng = FakeEngine(fails=99, error="Error response from daemon: No such container: c-a")
    nem = nemesis(monkeypatch, eng)
    with pytest.raises(FaultError, match="No such container.*after 1 tries"):
        nem.apply("pause", "a")
    assert eng.calls.count("pause") == 1


# ------------------------------------------------------------------ selectors

def test_a_selector_waits_for_the_vip_to_land(monkeypatch):
    nem = nemesis(monkeypatch, FakeEngine())
    answers = iter([None, None, "a"])
    monkeypatch.setattr(faults, "current_holder", lambda topo: next(answers))
    assert nem.resolve("not-vip-holder") == "b"


def test_a_selector_can_name_which_virtual_ip(monkeypatch):
    """``vip-holder:<vip>``: a design with two VIPs (design V's LVS1 and LVS3) picks the holder
    of the one named, not of the first."""
    nem = nemesis(monkeypatch, FakeEngine())
    asked = []
    monkeypatch.setattr(faults, "current_holder", lambda topo, vip=None: asked.append(vip) or "b")
    assert nem.resolve("vip-holder:10.9.0.210") == "b"
    assert asked == ["10.9.0.210"]


def test_a_selector_without_any_holder_fails(monkeypatch):
    nem = nemesis(monkeypatch, FakeEngine())
    monkeypatch.setattr(faults, "current_holder", lambda topo: None)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(faults.time, "monotonic", lambda: next(clock))
    with pytest.raises(FaultError, match="no node held the virtual IP for 15 s"):
        nem.resolve("vip-holder")


# ------------------------------------------------------------------ confirmed for the kind of target

@pytest.mark.parametrize("node,proto,port,word", [
    ("a", "imap", 143, "IMAP"),         # a mail node
    ("ldap", "ldap", 389, "LDAP"),      # the directory: an LDAP bind, not an IMAP timeout
    ("nas", "rpc", 24007, "RPC"),       # the NAS: glusterd's RPC service
    ("lb1", "imap", 143, "IMAP"),       # a load balancer: its client endpoint
    ("web", "http", 8080, "HTTP"),      # a node's own serves
])
def test_a_pause_is_confirmed_by_the_probe_of_what_the_target_serves(monkeypatch, node, proto, port, word):
    eng = FakeEngine()
    probe = Probe(eng)
    nem = nemesis(monkeypatch, eng, probe)
    fid = nem.apply("pause", node)
    spec = probe.specs[-1]
    assert (spec["proto"], spec["port"], spec["host"]) == (proto, port, META["nodes"][node]["lan"])
    assert confirmed(nem) == [f"frozen: {word} does not answer"]
    nem.heal(fid)
    assert confirmed(nem)[-1].startswith(f"{node} answers again after ")


def test_kill_stop_and_the_named_outages_confirm_with_the_targets_protocol(monkeypatch):
    eng = FakeEngine()
    nem = nemesis(monkeypatch, eng)
    with nem.fault("kill", "ldap"):
        pass
    with nem.fault("stop", "nas"):
        pass
    with nem.fault("ldap-down", "ldap"):
        pass
    with nem.fault("nas-stall", "nas"):
        pass
    c = confirmed(nem)
    assert c[0] == "container exited, LDAP refused"
    assert c[2].startswith("stopped gracefully in ") and c[2].endswith(", RPC refused")
    assert c[4].endswith(", LDAP refused")
    assert c[6] == "frozen: RPC does not answer"
    ops = [e.value for e in nem.h.events if e.type == "invoke" and e.f == "fault"]
    assert [o["fault"] for o in ops] == ["kill", "stop", "ldap-down", "nas-stall"]  # recorded by their own names


def test_a_target_that_still_answers_is_not_confirmed(monkeypatch):
    eng = FakeEngine()
    nem = nemesis(monkeypatch, eng, probe=lambda spec, timeout=3.0: "LDAP bind ok")  # e.g. a second slapd
    with pytest.raises(FaultError, match="ldap still answers LDAP while paused"):
        nem.apply("pause", "ldap")
    assert not nem.active
    fail = [e for e in nem.h.events if e.type == "fail" and e.f == "fault"]
    assert fail and "still answers LDAP" in fail[0].error
    assert eng.calls.count("unpause") == 1  # left nothing half-applied


@pytest.mark.parametrize("fault,target,words", [
    ("daemon-kill", "ldap", "daemon-kill applies to daemon targets, and ldap is a node/directory target"),
    ("daemon-kill", "lb1", "lb1 is a node/lb target (tier lb)"),
    ("ldap-down", "a", "ldap-down applies to directory targets"),
    ("nas-stall", "ldap", "nas-stall applies to nas targets"),
    ("kill", "nosuch", "nosuch is not a node of design x"),
    ("partition", "a", "a is not a link of design x"),
])
def test_a_fault_on_the_wrong_kind_of_target_is_a_failed_fault(monkeypatch, fault, target, words):
    eng = FakeEngine()
    nem = nemesis(monkeypatch, eng)
    with pytest.raises(FaultError, match="could not be applied") as e:
        nem.apply(fault, target)
    assert words in str(e.value)
    fail = [x for x in nem.h.events if x.type == "fail" and x.f == "fault"]
    assert len(fail) == 1 and words in fail[0].error       # the faults checker sees it
    assert eng.calls == []                                 # nothing was done to anything


def test_parameters_have_one_name_everywhere(monkeypatch):
    nem = nemesis(monkeypatch, FakeEngine())
    with pytest.raises(FaultError, match="fault link-latency has no parameter 'latency_ms'; its parameters: latency, jitter"):
        nem.apply("link-latency", "crossover", latency_ms=250)
    with pytest.raises(FaultError, match="unknown fault 'explode'"):
        nem.apply("explode", "a")
    assert not [e for e in nem.h.events if e.f == "fault"]  # refused before anything was recorded


def test_defaults_are_filled_but_the_history_keeps_what_was_asked(monkeypatch):
    eng = FakeEngine()
    nem = nemesis(monkeypatch, eng)
    nem.apply("stop", "a")
    assert eng.stopped_with == 10
    inv = [e.value for e in nem.h.events if e.type == "invoke" and e.f == "fault"][0]
    assert inv["params"] == {} and inv["fault"] == "stop" and inv["target"] == "a"


# ------------------------------------------------------------------ where a cut link is confirmed

def test_a_cut_is_confirmed_between_a_links_two_nodes_or_towards_its_first_peer(monkeypatch):
    meta = {**META, "nodes": {**META["nodes"], "a": {"lan": "10.0.0.1", "storage": "10.1.0.1", "xover": "10.2.0.1"},
                              "b": {"lan": "10.0.0.2", "xover": "10.2.0.2"}},
            "links": {**META["links"],
                      "storage-a": {"network": "switch1", "address": "storage", "nodes": ["a"], "peers": ["nas"]}}}
    monkeypatch.setattr(faults.docker, "api", lambda: FakeEngine())
    cluster = SimpleNamespace(dirty=False, meta=meta, design="x", container=lambda svc: f"c-{svc}",
                              wait_ready=lambda **k: None)
    nem = faults.Nemesis(cluster, Topology(cluster), History(), probe=Probe(FakeEngine()))
    # a two-node link: from its first node to the second's address on the link's network
    assert faults._link_ends(nem, "crossover") == ("a", "b", "10.2.0.2")
    # one side cut (the storage network taken from a front end): rules on ``a`` at its ``storage``
    # address; confirmed when ``a`` cannot reach the first peer at that peer's own address
    assert faults._link(nem, "storage-a") == ("storage", ["a"])
    assert faults._link_ends(nem, "storage-a") == ("a", "nas", "10.0.0.20")
    # a link with neither two nodes nor peers is cut unconfirmed (it says so in its confirmation)
    assert faults._link_ends(nem, "lan") is None


# ------------------------------------------------------------------ a whole NAS back at once

def test_faults_healed_together_are_all_released_before_any_is_confirmed(monkeypatch):
    # a GlusterFS node's readiness (volume status) needs its peer: healed one by one, the first
    # paused node never confirms while the other is still frozen
    eng = FakeEngine()
    nem = nemesis(monkeypatch, eng)
    confirms = []
    nem._wait_node_ready = lambda node, timeout=90: confirms.append((node, eng.state)) or f"{node} ready"
    f1, f2 = nem.apply("nas-stall", "nas"), nem.apply("pause", "a")
    nem.heal_together([f1, f2])
    assert [c for c in eng.calls if c in ("pause", "unpause")] == ["pause", "pause", "unpause"]
    assert confirms == [("nas", "running"), ("a", "running")]  # released first, then each confirmed
    heals = [(e.type, e.value["id"]) for e in nem.h.events if e.f == "heal"]
    assert heals == [("invoke", f1), ("invoke", f2), ("ok", f1), ("ok", f2)]
    assert not nem.active
