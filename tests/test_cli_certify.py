"""``mailha certify`` reads the summary of the run its own pytest session wrote (issue 10, path 12).

No suite runs here: the child pytest is replaced by a fake that writes run directories the way
the plugin does (``<stamp>-<label>-<token>/meta.json`` and ``summary.json``), plus another
session's newer run that ``reports/latest`` points at.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import ROOT, cli, cli_certify
from harness.cli_certify import exit_code, find_run, read_summary, reports_dir, run_label
from harness.errors import EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATED
from harness.report.facts import reproduce


def write_run(base: Path, name: str, label: str, summary: dict | None) -> Path:
    d = base / name
    d.mkdir(parents=True)
    (d / "meta.json").write_text(json.dumps({"run_id": name, "label": label}))
    if summary is not None:
        (d / "summary.json").write_text(json.dumps(summary))
    return d


def point_latest(base: Path, run: Path) -> None:
    latest = base / "latest"
    if latest.is_symlink():
        latest.unlink()
    latest.symlink_to(run.name)


# -- the pieces ------------------------------------------------------------------------------
def test_run_label_is_unique_per_command():
    a, b = run_label("mirror"), run_label("mirror")
    assert a != b and a.startswith("certify-mirror-") and run_label("all", "1a2b3c") == "certify-all-1a2b3c"


def test_find_run_picks_this_commands_run_not_latest(tmp_path):
    mine = write_run(tmp_path, "20261125t100000-certify-mirror-1a2b3c-aaaa", "certify-mirror-1a2b3c", {"exit_code": 1})
    other = write_run(tmp_path, "20261125t100500-certify-mirror-9f9f9f-bbbb", "certify-mirror-9f9f9f", {"exit_code": 0})
    point_latest(tmp_path, other)   # a concurrent session finished later
    assert find_run(tmp_path, "certify-mirror-1a2b3c") == (mine, "")
    assert read_summary(mine) == {"exit_code": 1}


def test_find_run_without_a_match_or_with_two_reads_nothing(tmp_path):
    write_run(tmp_path, "20261125t100000-certify-mirror-9f9f9f-aaaa", "certify-mirror-9f9f9f", {"exit_code": 0})
    run, why = find_run(tmp_path, "certify-mirror-1a2b3c")
    assert run is None and "no run directory labelled certify-mirror-1a2b3c" in why
    # a directory whose name matches but whose meta.json says another label is not this run
    write_run(tmp_path, "20261125t100100-certify-mirror-1a2b3c-bbbb", "something-else", {"exit_code": 0})
    assert find_run(tmp_path, "certify-mirror-1a2b3c")[0] is None
    for n in ("20261125t100200-certify-mirror-1a2b3c-cccc", "20261125t100300-certify-mirror-1a2b3c-dddd"):
        write_run(tmp_path, n, "certify-mirror-1a2b3c", {"exit_code": 0})
    run, why = find_run(tmp_path, "certify-mirror-1a2b3c")
    assert run is None and "2 run directories" in why
    assert find_run(tmp_path / "absent", "x") == (None, f"the suite wrote no run directory labelled x under {tmp_path / 'absent'}")


def test_reports_dir_follows_the_sessions_options(tmp_path):
    assert reports_dir([], env={}) == (cli_certify.REPORTS if cli_certify.REPORTS.is_absolute()
                                       else ROOT / cli_certify.REPORTS)
    assert reports_dir([], env={"MAILHA_REPORTS": str(tmp_path)}) == tmp_path
    assert reports_dir(["--mailha-reports", "out/r"], env={"MAILHA_REPORTS": str(tmp_path)}) == ROOT / "out/r"
    assert reports_dir(["--mailha-reports=/a", "-x", "--mailha-reports", "/b"], env={}) == Path("/b")


@pytest.mark.parametrize("rc,summary,expect", [
    (0, {"exit_code": 0}, EXIT_OK),
    (0, {"exit_code": 4}, 4),
    (1, {"exit_code": 1}, EXIT_VIOLATED),
    (1, None, EXIT_VIOLATED),
    (0, None, EXIT_HARNESS),          # no summary of this run: nothing certified, never 0
    (2, {"exit_code": 0}, EXIT_INTERRUPTED),
    (3, {"exit_code": 0}, EXIT_HARNESS),
    (4, None, EXIT_USAGE),
    (5, {"exit_code": 0}, EXIT_USAGE),
])
def test_exit_code(rc, summary, expect):
    assert exit_code(rc, summary) == expect


def test_the_reproduce_command_strips_the_label_token():
    assert reproduce({"label": "certify-mirror-1a2b3c", "seed": 7}) == "mailha certify mirror --seed 7"
    assert reproduce({"label": "certify-mirror", "seed": 7}) == "mailha certify mirror --seed 7"   # older runs
    assert reproduce({"label": "certify-all-1a2b3c"}) == "mailha certify all"


# -- the command, with a fake suite ------------------------------------------------------------
class FakeSuite:
    """Stands in for ``subprocess.Popen([python, -m, pytest, ...])``: writes this command's run
    (summary exit ``mine``), then another session's newer run that ``latest`` points at."""

    mine: int | None = 1
    rc = 1
    argv: list = []

    def __init__(self, argv, cwd=None):
        FakeSuite.argv = list(argv)
        base = reports_dir(argv)
        label = argv[argv.index("--mailha-label") + 1]
        if self.mine is not None:
            write_run(base, f"20261125t100000-{label}-aaaa", label, {"exit_code": self.mine})
        other = write_run(base, "20261125t100500-certify-mirror-ffffff-bbbb", "certify-mirror-ffffff", {"exit_code": 0})
        point_latest(base, other)

    def wait(self):
        return self.rc

    def poll(self):
        return self.rc


@pytest.fixture
def fake_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILHA_REPORTS", str(tmp_path))
    monkeypatch.setattr(cli_certify, "REPORTS", tmp_path)   # where reports/latest is for this test
    monkeypatch.setattr(cli_certify.subprocess, "Popen", FakeSuite)
    FakeSuite.mine, FakeSuite.rc = 1, 1
    return FakeSuite


def test_certify_reads_its_own_runs_summary_not_latest(fake_suite, capsys):
    assert cli.main(["certify", "mirror"]) == EXIT_VIOLATED   # latest says 0: not this run
    label = fake_suite.argv[fake_suite.argv.index("--mailha-label") + 1]
    assert label.startswith("certify-mirror-") and label != "certify-mirror-ffffff"
    assert f"-{label}-aaaa/index.html" in capsys.readouterr().err


def test_certify_without_its_own_summary_is_a_harness_error(fake_suite, capsys):
    fake_suite.mine, fake_suite.rc = None, 0   # the session wrote no run directory (latest is another's, exit 0)
    assert cli.main(["certify", "mirror"]) == EXIT_HARNESS
    assert "no summary of this run (the suite wrote no run directory labelled certify-mirror-" in capsys.readouterr().err


def test_certify_refuses_a_label_of_the_users(fake_suite, capsys):
    assert cli.main(["certify", "mirror", "--", "--mailha-label", "x"]) == EXIT_USAGE
    assert "labels its run itself" in capsys.readouterr().err
