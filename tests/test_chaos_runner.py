"""Pure parts of the chaos runner: durations, and that every scheduled fault maps to a fault the
nemesis can apply (a schedule the nemesis cannot follow would fail at run time, not here)."""
import pytest

from chaos import runner, schedule
from chaos.faults import FAULTS
from harness.errors import UserError


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5m", 90)])
def test_durations(text, seconds):
    assert runner.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "-3s", "0"])
def test_bad_durations_are_one_sentence_errors(text):
    with pytest.raises(UserError, match="duration|not a duration"):
        runner.parse_duration(text)


def test_every_scheduled_fault_has_a_nemesis_fault():
    for name in schedule.CATALOGUE:
        assert name in runner.APPLY, f"schedule fault {name} has no mapping in chaos.runner.APPLY"
        fault, renames = runner.APPLY[name]
        assert fault in FAULTS, f"{name} maps to {fault}, which chaos.faults does not implement"
        known = {p.name for p in schedule.CATALOGUE[name].params}
        assert set(renames) <= known, f"{name}: renames {set(renames) - known} are not parameters of the schedule"


def test_the_same_seed_gives_the_same_mirror_schedule():
    from harness import designs
    meta = designs.read_x_mailha([designs.compose_file("mirror")])
    d = schedule.design_from_meta(meta, "mirror")
    a = schedule.generate(7, 300, 20, None, d).to_json()
    b = schedule.generate(7, 300, 20, None, d).to_json()
    c = schedule.generate(8, 300, 20, None, d).to_json()
    assert a == b and a != c
