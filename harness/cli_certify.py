"""``mailha certify DESIGN|all``: run a design's suite and write the compliance report.

It is ``pytest suites/<design>`` with the run labelled ``certify-<design>-<token>`` (a token
unique to this command); the exit code is mailha's (harness/errors.py), mapped from pytest's
and the summary of the run directory this command's session created, found by that label
(never ``reports/latest``, which another session may have moved meanwhile).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from . import ROOT, designs
from .errors import EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_USAGE, EXIT_VIOLATED, UserError
from .store import REPORTS

LABEL_PREFIX = "certify-"


def suite_path(design: str):
    p = ROOT / "suites" / design
    if not any(p.glob("test_*.py")):
        raise UserError(f"design {design!r} has no certification suite yet (suites/{design}/).")
    return p


def run_label(what: str, token: str | None = None) -> str:
    """``certify-<design|all>-<token>``: the token makes the label, hence the run directory, this command's own."""
    return f"{LABEL_PREFIX}{what}-{token or secrets.token_hex(3)}"


def reports_dir(pytest_args: list[str], env: dict | None = None) -> Path:
    """Where the suite's session writes its run directory: ``--mailha-reports`` among the pytest
    arguments (the last one wins, as in pytest), else ``MAILHA_REPORTS``, else ``reports/``; a
    relative path is taken from the project root (the session's working directory)."""
    env = os.environ if env is None else env
    given = None
    for i, x in enumerate(pytest_args):
        if x == "--mailha-reports" and i + 1 < len(pytest_args):
            given = pytest_args[i + 1]
        elif x.startswith("--mailha-reports="):
            given = x.partition("=")[2]
    given = given or env.get("MAILHA_REPORTS") or None
    p = Path(given) if given else REPORTS
    return p if p.is_absolute() else ROOT / p


def find_run(reports: Path, label: str) -> tuple[Path | None, str]:
    """The run directory under ``reports`` whose meta.json carries ``label`` -> (path, "") or
    (None, why). Exactly one must match: none (the session did not start or wrote elsewhere) or
    several (a label reused) is no run of this command."""
    found = []
    for d in sorted(reports.glob(f"*-{label}-*")) if reports.is_dir() else []:
        try:
            meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("label") == label:
            found.append(d)
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"the suite wrote no run directory labelled {label} under {reports}"
    return None, f"{len(found)} run directories under {reports} carry the label {label}; none is read"


def read_summary(run: Path | None) -> dict | None:
    """The run's summary.json, or None when it has none (report not written, damaged, no run)."""
    if run is None:
        return None
    try:
        s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return s if isinstance(s, dict) else None


def exit_code(rc: int, summary: dict | None) -> int:
    """mailha's exit code from pytest's (``rc``) and this run's summary: pytest 2 -> 130, 3 -> 3,
    4/5 -> 2; else the summary's; without a summary of this run, 1 when pytest failed and 3
    otherwise (nothing was certified, so never 0)."""
    if rc == 2:
        return EXIT_INTERRUPTED
    if rc == 3:
        return EXIT_HARNESS
    if rc in (4, 5):
        return EXIT_USAGE
    if summary is not None and summary.get("exit_code") is not None:
        return int(summary["exit_code"])
    return EXIT_VIOLATED if rc == 1 else EXIT_HARNESS


def cmd_certify(a) -> int:
    if a.design == "all":
        names = [d for d in designs.available() if any((ROOT / "suites" / d).glob("test_*.py"))]
        if not names:
            raise UserError("no design has both a compose file and a suite yet.")
        label = run_label("all")
    else:
        names = [designs.canonical(a.design)]
        label = run_label(names[0])
    paths = [str(suite_path(n)) for n in names]
    if any(x == "--mailha-label" or x.startswith("--mailha-label=") for x in a.pytest_args or []):
        raise UserError("mailha certify labels its run itself; leave --mailha-label out (or run pytest directly).")
    for o in a.override or []:
        f = o.partition(":")[2] if ":" in o and not os.path.exists(o) else o
        if not os.path.exists(f) and not (ROOT / "compose" / "overrides" / f).exists():
            raise UserError(f"override file {f} does not exist.")
    argv = [sys.executable, "-m", "pytest", *paths, "--mailha-label", label, "-p", "no:cacheprovider"]
    for o in a.override or []:
        argv += ["--mailha-override", o]
    for t in a.threshold or []:
        argv += ["--mailha-threshold", t]
    if a.seed is not None:
        argv += ["--mailha-seed", str(a.seed)]
    if a.keep:
        argv.append("--mailha-keep")
    if a.fast:
        argv += ["-m", "not slow"]
    if a.k:
        argv += ["-k", a.k]
    argv += a.pytest_args or []
    print(f"mailha: certifying {', '.join(names)}: {' '.join(argv[1:])}", file=sys.stderr)
    # not subprocess.call: on Ctrl-C it SIGKILLs the child, which then cannot remove its clusters
    child = subprocess.Popen(argv, cwd=ROOT)
    try:
        rc = child.wait()
    except KeyboardInterrupt:
        # the child got the terminal's SIGINT too (or, for our SIGTERM, gets it now): let it tear down
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)  # the plugin turns it into an interrupt with teardown
        print("mailha: interrupted; waiting for the suite to remove its clusters", file=sys.stderr)
        while True:
            try:
                child.wait()
                break
            except KeyboardInterrupt:
                continue  # a second Ctrl-C must not orphan the teardown either
        return EXIT_INTERRUPTED
    run, why = find_run(reports_dir(a.pytest_args or []), label)
    summary = read_summary(run)
    if summary is not None:
        print(f"mailha: report {run / 'index.html'}", file=sys.stderr)
    elif rc not in (2, 4, 5):
        print(f"mailha: no summary of this run ({why or f'{run} has no readable summary.json'}).", file=sys.stderr)
    return exit_code(rc, summary)


def add_parsers(sub) -> None:
    s = sub.add_parser("certify", help="run a design's suite and write the compliance report")
    s.add_argument("design", help="a design name, or 'all'")
    s.add_argument("--override", "-o", action="append", metavar="[DESIGN:]FILE", help="compose override file (repeatable)")
    s.add_argument("--threshold", action="append", metavar="NAME=VALUE", help="override a claim threshold")
    s.add_argument("--seed", type=int)
    s.add_argument("--keep", action="store_true", help="leave the cluster running")
    s.add_argument("--fast", action="store_true", help="skip tests marked slow (broken variants)")
    s.add_argument("-k", metavar="EXPR", help="only tests matching the pytest expression")
    s.add_argument("pytest_args", nargs="*", help="more pytest arguments after --")
    s.set_defaults(fn=cmd_certify)
