"""One fault catalogue (harness.faults.CATALOGUE): each fault defined once — parameters, target
kinds, apply/heal/confirm — and read as such by the schedule, the nemesis and the chaos runner.
No Docker."""
import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaos import runner, schedule
from harness import designs, faults
from harness.faults import CATALOGUE, GROUPS, TARGET_KINDS, Nemesis
from harness.history import History
from harness.topology import Topology, node_kinds, node_serves

ROOT = Path(__file__).resolve().parent.parent
MODES = {"down", "degraded", "cut", "shaped", "stalled"}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_each_fault_is_complete(name):
    f = CATALOGUE[name]
    assert f.name == name and callable(f.apply) and callable(f.heal)
    assert f.targets and set(f.targets) <= set(TARGET_KINDS), f.targets
    assert f.mode in MODES
    assert f.summary and f.confirmed_by
    names = [p.name for p in f.params]
    assert len(names) == len(set(names))
    for p in f.params:
        assert p.default is not None, f"{name}.{p.name} has no default for scripted use"
        if p.drawn:
            assert p.choices or p.lo <= p.default <= p.hi or p.lo <= p.hi
    if f.scheduled:
        lo, hi = f.duration
        assert 0 < lo <= hi


def test_the_schedule_reads_the_same_definitions():
    for name, f in schedule.CATALOGUE.items():
        assert f is CATALOGUE[name]                         # a view, not a copy
    assert [n for n in CATALOGUE if CATALOGUE[n].scheduled] == list(schedule.CATALOGUE)
    assert "wipe" not in schedule.CATALOGUE                 # scripted tests only
    assert schedule.ALIASES is GROUPS
    for group, members in GROUPS.items():
        assert all(m in schedule.CATALOGUE for m in members), group
    with pytest.raises(ValueError, match="fault 'wipe' is for scripted tests only"):
        schedule.expand_faults("kill,wipe")


def test_the_runner_maps_nothing():
    """No second table of names or parameter renames: the runner hands the schedule's fault and
    parameters to the nemesis as they are."""
    assert not hasattr(runner, "APPLY")
    src = (ROOT / "chaos" / "runner.py").read_text()
    assert "latency_ms" not in src and "rate_kbps" not in src


def test_dispatch_is_a_table_not_names_built_from_strings():
    tree = ast.parse((ROOT / "harness" / "faults.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "getattr"]
    assert not calls, "harness/faults.py dispatches with getattr"


def test_every_fault_is_documented():
    text = (ROOT / "docs" / "chaos.md").read_text()
    for name in CATALOGUE:
        assert f"`{name}`" in text, f"docs/chaos.md does not describe {name}"


# ------------------------------------------------------------------ schedule -> nemesis, on the reference designs

def nemesis_for(design: str) -> tuple[Nemesis, dict]:
    meta = designs.read_x_mailha([designs.compose_file(design)])
    cluster = SimpleNamespace(dirty=False, meta=meta, design=design, container=lambda s: f"c-{s}")
    return Nemesis(cluster, Topology(cluster), History()), meta


@pytest.mark.parametrize("design", ["mirror", "proxy"])
def test_every_scheduled_fault_is_one_the_nemesis_accepts_on_that_target(design):
    """What a schedule draws on a reference design — fault, parameters, concrete targets — is
    accepted by the nemesis: right parameter names, right kind of target (checked before any
    Docker call). This replaces the old check that runner.APPLY covered the schedule's names."""
    nem, meta = nemesis_for(design)
    d = schedule.design_from_meta(meta, design)
    seen = set()
    for seed in range(15):
        for spec in schedule.generate(seed, 900, 6, None, d):
            f = CATALOGUE[spec.fault]
            f.bind(spec.params)                            # raises on a name the fault does not have
            for target in spec.target or ():
                assert nem.target_problem(f, target) is None, (spec, nem.target_problem(f, target))
            seen.add(spec.fault)
    assert seen == {n for n in schedule.CATALOGUE if schedule.selectors(n, d)}


def test_what_each_reference_node_serves():
    """The probes that confirm faults, from the compose files' x-mailha blocks (defaults by tier)."""
    mirror = designs.read_x_mailha([designs.compose_file("mirror")])
    proxy = designs.read_x_mailha([designs.compose_file("proxy")])
    serves = {n: (s["proto"], s["port"]) for n, s in
              ((n, node_serves(i, mirror)) for n, i in mirror["nodes"].items())}
    assert serves == {"mirror-a": ("imap", 143), "mirror-b": ("imap", 143)}
    serves = {n: (node_serves(i, proxy)["proto"], node_serves(i, proxy)["port"]) for n, i in proxy["nodes"].items()}
    assert serves == {"lb1": ("imap", 143), "lb2": ("imap", 143), "proxy1": ("imap", 143), "proxy2": ("imap", 143),
                      "be1": ("imap", 143), "be2": ("imap", 143), "ldap": ("ldap", 389)}
    kinds = {n: node_kinds(i, proxy) for n, i in proxy["nodes"].items()}
    assert kinds["ldap"] == ("node", "directory") and kinds["lb1"] == ("node", "lb")
    assert kinds["be1"] == ("node", "daemon") and kinds["proxy1"] == ("node", "daemon")
    nas = node_serves({"tier": "nas"}, {})
    assert (nas["proto"], nas["port"]) == ("rpc", 24007)


def test_a_node_may_say_what_it_serves():
    meta = {"nodes": {"n": {"lan": "10.0.0.9", "serves": {"proto": "smtp", "port": 2525}}}}
    t = Topology(SimpleNamespace(meta=meta, design="x"))
    assert t.serves("n") == {"host": "10.0.0.9", "proto": "smtp", "port": 2525}
    with pytest.raises(ValueError, match="serves must be a mapping with proto"):
        node_serves({"serves": "imap"}, {})


def test_the_rpc_probe_speaks_onc_rpc(monkeypatch):
    """A NULL call with record marking; any reply with our xid counts, a closed connection or a
    stranger's xid does not (no Docker: a fake socket answers)."""
    import struct

    from harness import readiness

    sent = []

    class Sock:
        def __init__(self, reply):
            self.reply = reply
        def __enter__(self):
            return self
        def __exit__(self, *a):
            return False
        def settimeout(self, t):
            pass
        def sendall(self, data):
            sent.append(data)
            xid = struct.unpack(">I", data[4:8])[0]
            self.reply = self.reply(xid)
        def recv(self, n):
            out, self.reply = self.reply[:n], self.reply[n:]
            return out

    def connect(reply):
        monkeypatch.setattr(readiness.socket, "create_connection", lambda addr, timeout=None: Sock(reply))

    # MSG_ACCEPTED with PROG_UNAVAIL: the server answered
    connect(lambda xid: struct.pack(">6I", 0x80000018, xid, 1, 0, 0, 0) + struct.pack(">2I", 0, 1))
    assert "RPC reply" in readiness.check({"proto": "rpc", "host": "10.0.0.20"})
    call = sent[-1]
    assert struct.unpack(">I", call[:4])[0] == 0x80000000 | 40
    assert struct.unpack(">9I", call[8:44]) == (0, 2, 123451501, 1, 0, 0, 0, 0, 0)
    connect(lambda xid: b"")
    with pytest.raises(ConnectionError, match="closed the connection"):
        readiness.check({"proto": "rpc", "host": "10.0.0.20", "port": 2049, "program": 100003, "version": 3})
    assert struct.unpack(">2I", sent[-1][16:24]) == (100003, 3)
    connect(lambda xid: struct.pack(">3I", 0x8000000c, xid ^ 1, 1))
    with pytest.raises(ConnectionError, match="not a reply to our call"):
        readiness.check({"proto": "rpc", "host": "10.0.0.20"})


def test_history_records_keep_their_shape(monkeypatch):
    """What checkers read: a ``fault`` op {id, fault, target, params[, selector]} completed with
    {id, confirmed}, and a ``heal`` op {id} completed with {id, confirmed}."""
    from harness.checkers import faults as fault_checker
    from tests.fake_engine import FakeApi

    eng = FakeApi()
    monkeypatch.setattr(faults.docker, "api", lambda: eng)
    nem, _ = nemesis_for("mirror")
    nem.cluster.wait_ready = lambda **k: None
    monkeypatch.setattr(faults, "current_holder", lambda topo: "mirror-a")

    def probe(spec, timeout=3.0):
        if eng.state != "running":
            raise TimeoutError("no greeting")
        return "* OK"
    nem.probe = probe
    with nem.fault("pause", "vip-holder"):
        pass
    ev = [(e.type, e.f, e.value) for e in nem.h.events]
    assert ev[0][:2] == ("invoke", "fault") and set(ev[0][2]) == {"id", "fault", "target", "params", "selector"}
    assert ev[0][2]["target"] == "mirror-a" and ev[0][2]["selector"] == "vip-holder"
    assert ev[1][:2] == ("ok", "fault") and set(ev[1][2]) == {"id", "confirmed"}
    assert ev[2][:2] == ("invoke", "heal") and set(ev[2][2]) == {"id"}
    assert ev[3][:2] == ("ok", "heal") and set(ev[3][2]) == {"id", "confirmed"}
    r = fault_checker.check(nem.h.events)
    assert r["valid"] == "pass" and r["applied"] == r["healed"] == 1
