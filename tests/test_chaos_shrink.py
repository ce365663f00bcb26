"""chaos/shrink.py: the cuts, and shrinking against scripted replays (no cluster)."""
import itertools

import pytest

from chaos import shrink
from chaos.schedule import FaultSpec, Schedule, load


def sched(n=8, gap=20.0, dur=8.0, lead=30.0):
    faults = [FaultSpec(id=f"f{i}", at=lead + i * gap, duration=dur, fault="kill", selector="one-node",
                        target=(f"node{i % 2}",)) for i in range(n)]
    last = max(f.end for f in faults)
    return Schedule(seed=7, duration_s=last + 20, interval_s=gap, recovery_s=20.0, fault_types=("kill",),
                    design={"name": "mirror"}, faults=faults)


def ids(s):
    return [f.id for f in s.faults]


def test_violated_reads_the_disagreeing_cells_of_the_design():
    summary = {"cells": [{"design": "mirror", "claim": "no_loss", "agreement": "disagree"},
                         {"design": "mirror", "claim": "smtp", "agreement": "agree"},
                         {"design": "proxy", "claim": "ldap", "agreement": "disagree"}]}
    assert shrink.violated(summary, "mirror") == {"no_loss"}
    assert shrink.violated({}, "mirror") == set()


def test_the_cuts_remove_halves_then_single_faults_then_shorten_then_close_gaps():
    cuts = [c for c, _ in shrink.candidates(sched(4))]
    assert cuts[:2] == ["remove f0, f1", "remove f2, f3"]
    assert cuts[2:6] == ["remove f0", "remove f1", "remove f2", "remove f3"]
    assert cuts[6].startswith("halve f0 (kill 8 s -> 4 s)")
    assert cuts[-1].startswith("close gaps")


def test_a_window_is_never_halved_below_the_minimum():
    s = sched(1, dur=3.0)
    assert shrink.halved(s, "f0").faults[0].duration == shrink.MIN_WINDOW_S
    assert shrink.halved(shrink.halved(s, "f0"), "f0") is None


def test_closing_gaps_keeps_order_and_overlaps_and_shortens_the_run():
    s = sched(3, gap=40.0, dur=8.0, lead=60.0)
    c = shrink.compacted(s)
    assert [f.at for f in c.faults] == [shrink.LEAD_S, shrink.LEAD_S + 8 + shrink.GAP_S, shrink.LEAD_S + 2 * (8 + shrink.GAP_S)]
    assert c.duration_s == c.faults[-1].end + s.recovery_s < s.duration_s
    assert shrink.compacted(c) is None  # nothing left to close


def test_the_run_always_lasts_past_the_last_heal():
    s = shrink.without(sched(4), ["f3"])
    assert s.duration_s >= max(f.end for f in s.faults) + s.recovery_s


def test_shrinking_finds_the_two_faults_that_matter():
    # the violation needs f2 and f5, and f5's window must be at least 3 s
    def attempt(s):
        d = {f.id: f for f in s.faults}
        return {"no_loss"} if "f2" in d and "f5" in d and d["f5"].duration >= 3 else set()

    r = shrink.shrink(sched(8), {"no_loss"}, attempt, repeat=1, max_replays=200)
    assert r["outcome"] == "shrunk"
    assert ids(r["schedule"]) == ["f2", "f5"]
    assert {f.id: f.duration for f in r["schedule"].faults} == {"f2": 2.0, "f5": 4.0}
    assert r["schedule"].faults[0].at == shrink.LEAD_S  # gaps closed
    assert all(e["kept"] == bool(e["violated"]) for e in r["log"])


def test_a_timing_dependent_violation_is_kept_when_one_of_the_replays_shows_it():
    calls = itertools.count()

    def attempt(s):  # violates on every third replay, whenever f1 is in the schedule
        return {"no_loss"} if any(f.id == "f1" for f in s.faults) and next(calls) % 3 == 2 else set()

    r = shrink.shrink(sched(4), {"no_loss"}, attempt, repeat=3, max_replays=200)
    assert ids(r["schedule"]) == ["f1"]
    assert max(e["replay"] for e in r["log"]) == 3


def test_an_original_that_does_not_fail_again_is_not_reproduced():
    r = shrink.shrink(sched(4), {"no_loss"}, lambda s: set(), repeat=2)
    assert r["outcome"] == "not-reproduced" and r["schedule"] is None and r["replays"] == 2


def test_a_harness_error_is_a_replay_that_did_not_violate():
    r = shrink.shrink(sched(2), {"no_loss"}, lambda s: None, repeat=2)
    assert r["outcome"] == "not-reproduced" and all(e["harness_error"] for e in r["log"])


def test_other_violated_claims_do_not_count():
    r = shrink.shrink(sched(2), {"no_loss"}, lambda s: {"failover_no_interruption"}, repeat=1)
    assert r["outcome"] == "not-reproduced"


def test_running_out_of_replays_says_budget_and_keeps_the_smallest_so_far():
    r = shrink.shrink(sched(8), {"no_loss"}, lambda s: {"no_loss"} if len(s.faults) >= 4 else set(),
                      repeat=2, max_replays=4)
    assert r["outcome"] == "budget" and len(r["schedule"].faults) == 4 and r["replays"] == 4


def test_nothing_smaller_fails_is_not_shrunk():
    full = sched(2, dur=2.0, lead=10.0, gap=7.0)
    r = shrink.shrink(full, {"no_loss"}, lambda s: {"no_loss"} if len(s.faults) == 2 else set(), repeat=1)
    assert r["outcome"] == "not-shrunk" and r["schedule"] is full


def test_no_target_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="no target claims"):
        shrink.shrink(sched(2), set(), lambda s: set())


def test_progress_is_reported_after_every_replay():
    seen = []
    shrink.shrink(sched(2), {"no_loss"}, lambda s: {"no_loss"}, repeat=1, max_replays=3,
                  saw=lambda log, best, kept: seen.append((len(log), len(best.faults))))
    assert [n for n, _ in seen] == [1, 2, 3] and seen[0][1] == 2


def test_shrink_run_replays_under_the_runs_own_options_and_keeps_everything(tmp_path, monkeypatch):
    import json

    from chaos import runner

    src = tmp_path / "20261207t000000-chaos-mirror-abcd"
    src.mkdir()
    sched(4).write(src)
    (src / "meta.json").write_text(json.dumps({"options": {"overrides": ["mirror/no-health-check.yml"],
                                                           "thresholds": {"converge_s": 99.0}}}))
    (src / "summary.json").write_text(json.dumps({"cells": [
        {"design": "mirror", "claim": "failover_no_interruption", "agreement": "disagree"}]}))
    calls = []

    def fake_run(design, *, replay, overrides, thresholds, reports, progress):
        s = load(replay)
        calls.append((design, overrides, thresholds, len(s.faults)))
        bad = any(f.id == "f2" for f in s.faults)
        return {"run_dir": f"{reports}/r{len(calls)}", "exit_code": 1 if bad else 0,
                "cells": [{"design": "mirror", "claim": "failover_no_interruption",
                           "agreement": "disagree" if bad else "agree"}]}
    monkeypatch.setattr(runner, "run", fake_run)
    r = runner.shrink_run(str(src), repeat=1, max_replays=30, reports=tmp_path / "out")
    assert r["outcome"] == "shrunk" and [f.id for f in r["schedule"].faults] == ["f2"]
    assert calls[0] == ("mirror", ["mirror/no-health-check.yml"], ["converge_s=99.0"], 4)
    out = __import__("pathlib").Path(r["run_dir"])
    doc = json.loads((out / "shrink.json").read_text())
    assert doc["outcome"] == "shrunk" and doc["smallest"]["faults"] == 1
    assert all(e["run_dir"] for e in doc["replays"]) and len(doc["replays"]) == len(calls)
    assert (out / "schedule.json").is_file() and len(list((out / "candidates").iterdir())) == len(calls)


def test_shrink_run_refuses_a_run_that_violated_nothing(tmp_path):
    from chaos import runner
    from harness.errors import UserError

    src = tmp_path / "run"
    src.mkdir()
    sched(2).write(src)
    with pytest.raises(UserError, match="violated no claim of mirror; name the claims"):
        runner.shrink_run(str(src), reports=tmp_path / "out")


def test_the_command_refuses_what_does_not_go_with_shrink_in_one_sentence(tmp_path, capsys):
    from harness.cli import main

    assert main(["chaos", "mirror", "--shrink", str(tmp_path)]) == 2
    assert main(["chaos", "--shrink", str(tmp_path), "--seed", "3"]) == 2
    assert main(["chaos", "mirror", "--repeat", "2"]) == 2
    assert main(["chaos", "--shrink", str(tmp_path)]) == 2  # not a chaos run: no schedule
    err = capsys.readouterr().err
    assert "takes the design from the run" in err and "--seed does not go with it" in err
    assert "--repeat goes with --shrink RUN_DIR" in err and "only runs started by 'mailha chaos'" in err
