"""The run store: one directory per run under ``reports/``.

Layout of a run directory::

    meta.json          run id, command, harness version and git commit, host facts, options, seed
    history.jsonl      every event (see harness.history)
    checks.json        checker results: [{test, design, checker, options, window, result}]
    claims.json        claim evidence recorded by tests: [{design, claim, test, measured, ...}]
    junit.xml          pytest's JUnit report
    summary.json       verdicts per claim and the exit code (written at the end, harness.report)
    claims-junit.xml   one JUnit testcase per claim (harness.report)
    index.html         the compliance report (harness.report; docs/report.md)
    clusters/<run-id>/ compose.yml as run, images.json, versions.json, logs/<container>.log

``reports/latest`` is a symlink to the newest run. A merged report (``mailha report
--merge``) is a directory with the same outputs and a meta.json listing its runs.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import ROOT, __version__

REPORTS = Path(os.environ.get("MAILHA_REPORTS", ROOT / "reports"))


def new_run_id(label: str = "run") -> str:
    """Sortable, unique and usable as a compose project name: ``20261125t011200-mirror-3fa1``."""
    stamp = _dt.datetime.now().strftime("%Y%m%dt%H%M%S")
    return f"{stamp}-{label}-{secrets.token_hex(2)}".lower()


def git_commit() -> dict:
    def g(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    commit = g("rev-parse", "HEAD")
    dirty = bool(g("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit or None, "dirty": dirty}


def _argv() -> list[str]:
    """The command as a person would type it again (``python -m pytest``, not pytest's __main__.py)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("pytest/__main__.py", "pytest/__main__.pyc")):
        return ["python", "-m", "pytest", *argv[1:]]
    if argv and argv[0].endswith("/mailha"):
        return ["mailha", *argv[1:]]
    return argv


class RunDir:
    """A run directory; JSON files are written atomically so a reader never sees half a file."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, label: str, *, command: list[str] | None = None, options: dict | None = None,
               seed: int | None = None, base: Path | None = None) -> "RunDir":
        base = Path(base or REPORTS)
        base.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(label)
        rd = cls(base / run_id)
        rd.path.mkdir(parents=True)
        rd.write_json("meta.json", {
            "run_id": run_id,
            "label": label,
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": command or _argv(),
            "cwd": os.getcwd(),
            "harness_version": __version__,
            "git": git_commit(),
            "host": {"hostname": socket.gethostname(), "platform": platform.platform(),
                     "python": platform.python_version(), "cpus": os.cpu_count()},
            "options": options or {},
            "seed": seed,
        })
        rd.point_latest()
        return rd

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_json(self, name: str, data: Any) -> Path:
        p = self.file(name)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, p)
        return p

    def read_json(self, name: str, default: Any = None) -> Any:
        p = self.path / name
        if not p.exists():
            return default
        return json.loads(p.read_text(encoding="utf-8"))

    def update_meta(self, **kw) -> None:
        meta = self.read_json("meta.json", {})
        meta.update(kw)
        self.write_json("meta.json", meta)

    def append_json(self, name: str, item: Any) -> None:
        """Append to a JSON list file (small files: checks.json, claims.json)."""
        items = self.read_json(name, [])
        items.append(item)
        self.write_json(name, items)

    def point_latest(self) -> None:
        latest = self.path.parent / "latest"
        tmp = self.path.parent / f".latest-{os.getpid()}"
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(self.path.name)
            os.replace(tmp, latest)
        except OSError:
            pass  # filesystems without symlinks: the newest directory name still sorts last


def open_run(path: str | Path) -> RunDir:
    """A stored run from a path (``reports/latest`` works); raises UserError if it is not one."""
    from .errors import UserError

    p = Path(path)
    if not (p / "meta.json").exists():
        raise UserError(f"{path} is not a mailha run directory (no meta.json); pass a directory under reports/.")
    return RunDir(p.resolve())
