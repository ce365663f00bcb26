"""The nemesis on a flaky host: pause retries a freezer that could not freeze, selectors wait
for a VIP holder, and what cannot be done fails — never passes. No Docker: ``docker`` is faked."""
from types import SimpleNamespace

import pytest

from chaos import faults
from harness.docker import Result
from harness.errors import FaultError, HostError
from harness.history import History

FREEZE_FAIL = ("Error response from daemon: Cannot pause container 1f: OCI runtime pause failed: "
               "unable to freeze: unknown")


class FakeEngine:
    """``docker pause`` fails ``fails`` times with runc's freezer error, then works."""

    def __init__(self, fails: int, error: str = FREEZE_FAIL):
        self.fails, self.error, self.calls, self.paused = fails, error, [], False

    def __call__(self, args, check=True, timeout=None, **kw):
        self.calls.append(args[0])
        if args[0] == "pause":
            if self.fails:
                self.fails -= 1
                if check:  # as docker.run does: the last line of docker's message
                    raise HostError(f"'docker pause {args[1]}' failed: {self.error}")
                return Result(1, "", self.error + "\n")
            self.paused = True
            return Result(0, "", "")
        if args[0] == "inspect":
            return Result(0, "paused\n" if self.paused else "running\n", "")
        return Result(0, "", "")


def nemesis(monkeypatch, engine):
    monkeypatch.setattr(faults.docker, "run", engine)
    monkeypatch.setattr(faults.time, "sleep", lambda s: None)
    monkeypatch.setattr(faults, "_tcp_greets", lambda *a, **k: False)
    topo = SimpleNamespace(container=lambda n: f"c-{n}", node_names=["a", "b"],
                           nodes={"a": SimpleNamespace(lan="10.0.0.1"), "b": SimpleNamespace(lan="10.0.0.2")})
    return faults.Nemesis(SimpleNamespace(dirty=False), topo, History())


def test_pause_is_retried_when_the_freezer_could_not_freeze(monkeypatch):
    eng = FakeEngine(fails=2)
    nem = nemesis(monkeypatch, eng)
    fid = nem.apply("pause", "a")
    assert eng.calls.count("pause") == 3
    ok = [e for e in nem.h.events if e.type == "ok" and e.f == "fault"]
    assert "try 3" in ok[0].value["confirmed"]
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


def test_a_selector_waits_for_the_vip_to_land(monkeypatch):
    nem = nemesis(monkeypatch, FakeEngine(0))
    answers = iter([None, None, "a"])
    monkeypatch.setattr(faults, "current_holder", lambda topo: next(answers))
    assert nem.resolve("not-vip-holder") == "b"


def test_a_selector_without_any_holder_fails(monkeypatch):
    nem = nemesis(monkeypatch, FakeEngine(0))
    monkeypatch.setattr(faults, "current_holder", lambda topo: None)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(faults.time, "monotonic", lambda: next(clock))
    with pytest.raises(FaultError, match="no node held the virtual IP for 15 s"):
        nem.resolve("vip-holder")
