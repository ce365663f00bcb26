"""Pure parts of the chaos runner: durations, and that every scheduled fault maps to a fault the
nemesis can apply (a schedule the nemesis cannot follow would fail at run time, not here)."""
import json

import pytest

from chaos import runner, schedule
from harness.errors import UserError


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5m", 90)])
def test_durations(text, seconds):
    assert runner.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "-3s", "0"])
def test_bad_durations_are_one_sentence_errors(text):
    with pytest.raises(UserError, match="duration|not a duration"):
        runner.parse_duration(text)


def test_the_same_seed_gives_the_same_mirror_schedule():
    from harness import designs
    meta = designs.read_x_mailha([designs.compose_file("mirror")])
    d = schedule.design_from_meta(meta, "mirror")
    a = schedule.generate(7, 300, 20, None, d).to_json()
    b = schedule.generate(7, 300, 20, None, d).to_json()
    c = schedule.generate(8, 300, 20, None, d).to_json()
    assert a == b and a != c


def test_plan_prints_the_schedule_a_run_would_write_and_starts_nothing(capsys, monkeypatch):
    from harness import cli

    def no_docker(*a, **k):
        raise AssertionError("--plan must not touch Docker")
    monkeypatch.setattr("harness.docker.client", no_docker)
    monkeypatch.setattr("harness.docker.compose", no_docker)
    outs = []
    for _ in range(2):
        assert cli.main(["chaos", "mirror", "--duration", "5m", "--seed", "7", "--plan", "json"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert doc["seed"] == 7 and doc["duration_s"] == 300 and doc["faults"]
    _, sched_ = runner.plan("mirror", duration="5m", seed=7)
    assert sched_.to_json() + "\n" == outs[0]
    assert cli.main(["chaos", "mirror", "--duration", "5m", "--seed", "7", "--plan"]) == 0
    assert "seed 7, 300 s" in capsys.readouterr().out


def test_a_heal_waiting_on_a_dependency_does_not_hold_back_that_dependencys_heal():
    """Found by 'mailha chaos proxy --seed 7': a back end's heal (its start needs LDAP) waited 90 s
    while LDAP's heal, due a moment later, waited behind it. Heals now run side by side."""
    import threading
    import time
    from types import SimpleNamespace

    ldap_back = threading.Event()

    class Nemesis:
        def __init__(self):
            self.active = {}

        def apply(self, fault, target, **params):
            fid = f"n-{target}"
            self.active[fid] = SimpleNamespace(target=target)
            return fid

        def heal(self, fid):
            if fid == "n-be1" and not ldap_back.wait(5):
                raise runner.FaultError("be1 never became ready: LDAP is down")
            if fid == "n-ldap":
                ldap_back.set()
            del self.active[fid]

    spec = lambda i, fault, target, at, dur: schedule.FaultSpec(  # noqa: E731
        id=i, fault=fault, selector="one-node", target=(target,), at=at, duration=dur, params={})
    plan = SimpleNamespace(faults=[spec("f1", "stop", "be1", 0.0, 0.1), spec("f2", "stop", "ldap", 0.05, 0.2)])
    d = runner.Driver(SimpleNamespace(nemesis=Nemesis()), plan, time.monotonic(), None).start()
    time.sleep(0.6)
    d.stop()
    assert d.errors == [] and ldap_back.is_set()


def test_a_fault_due_on_a_target_still_being_healed_waits_without_blocking_other_heals():
    """The same run, a step later: a fault due on the back end while its heal still waits for LDAP
    must not stop the loop from healing LDAP (it is applied once the back end is back)."""
    import threading
    import time
    from types import SimpleNamespace

    ldap_back = threading.Event()
    applied = []

    class Nemesis:
        def __init__(self):
            self.active = {}

        def apply(self, fault, target, **params):
            applied.append((fault, target, ldap_back.is_set()))
            fid = f"n-{target}-{len(applied)}"
            self.active[fid] = SimpleNamespace(target=target)
            return fid

        def heal(self, fid):
            if fid.startswith("n-be1-1") and not ldap_back.wait(5):
                raise runner.FaultError("be1 never became ready: LDAP is down")
            if fid.startswith("n-ldap"):
                ldap_back.set()
            del self.active[fid]

    spec = lambda i, fault, target, at, dur: schedule.FaultSpec(  # noqa: E731
        id=i, fault=fault, selector="one-node", target=(target,), at=at, duration=dur, params={})
    plan = SimpleNamespace(faults=[spec("f1", "stop", "be1", 0.0, 0.1), spec("f2", "stop", "ldap", 0.05, 0.6),
                                   spec("f3", "daemon-kill", "be1", 0.2, 0.1)])
    d = runner.Driver(SimpleNamespace(nemesis=Nemesis()), plan, time.monotonic(), None).start()
    time.sleep(2.5)
    d.stop()
    assert d.errors == [] and ("daemon-kill", "be1", True) in applied
