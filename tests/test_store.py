"""The run store: one directory per run, atomic JSON files, reports/latest, open_run."""
from __future__ import annotations

import json
import os

import pytest

from harness import __version__
from harness.errors import EXIT_USAGE, UserError
from harness.store import RunDir, new_run_id, open_run


def test_run_ids_sort_by_time_and_are_unique():
    a, b = new_run_id("mirror"), new_run_id("mirror")
    assert a != b
    assert a.split("-")[1] == "mirror" and a[:8].isdigit() and a[8] == "t"
    assert a == a.lower()


def test_create_writes_meta_and_points_latest(tmp_path):
    r = RunDir.create("mirror", command=["pytest", "suites/mirror"], options={"x": 1}, seed=7, base=tmp_path)
    meta = json.loads((r.path / "meta.json").read_text())
    assert meta["run_id"] == r.run_id and meta["label"] == "mirror" and meta["seed"] == 7
    assert meta["harness_version"] == __version__ and meta["command"] == ["pytest", "suites/mirror"]
    assert {"commit", "dirty"} <= set(meta["git"]) and meta["host"]["hostname"]
    latest = tmp_path / "latest"
    assert latest.is_symlink() and latest.resolve() == r.path.resolve()
    r2 = RunDir.create("proxy", base=tmp_path)
    assert (tmp_path / "latest").resolve() == r2.path.resolve()


def test_json_files_are_written_atomically_and_appended(tmp_path):
    r = RunDir(tmp_path / "run")
    r.write_json("checks.json", [])
    r.append_json("checks.json", {"checker": "lag"})
    r.append_json("checks.json", {"checker": "messages"})
    assert [c["checker"] for c in r.read_json("checks.json")] == ["lag", "messages"]
    assert not any(p.name.endswith(".tmp") for p in r.path.iterdir())
    assert r.read_json("missing.json", {"d": 1}) == {"d": 1}
    r.update_meta(duration_s=3.5)
    r.update_meta(pytest_exit=0)
    assert r.read_json("meta.json") == {"duration_s": 3.5, "pytest_exit": 0}


def test_file_creates_subdirectories(tmp_path):
    r = RunDir(tmp_path / "run")
    p = r.file("clusters/x/logs/a.log")
    assert p.parent.is_dir() and p.name == "a.log"


def test_open_run_accepts_a_run_and_the_latest_link(tmp_path):
    r = RunDir.create("mirror", base=tmp_path)
    assert open_run(r.path).path == r.path.resolve()
    assert open_run(tmp_path / "latest").path == r.path.resolve()


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p / "nope"])
def test_open_run_rejects_what_is_not_a_run(tmp_path, make):
    with pytest.raises(UserError) as e:
        open_run(make(tmp_path))
    assert e.value.exit_code == EXIT_USAGE
    assert "not a mailha run directory" in str(e.value)


def test_latest_survives_a_stale_temporary_link(tmp_path):
    stale = tmp_path / f".latest-{os.getpid()}"
    stale.symlink_to("gone")
    r = RunDir.create("mirror", base=tmp_path)
    assert (tmp_path / "latest").resolve() == r.path.resolve()
