"""``mailha certify DESIGN|all``: run a design's suite and write the compliance report.

It is ``pytest suites/<design>`` with the run labelled ``certify-<design>``; the exit code
is mailha's (harness/errors.py), mapped from pytest's and the run's summary.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from . import ROOT, designs
from .errors import EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATED, UserError
from .store import REPORTS


def suite_path(design: str):
    p = ROOT / "suites" / design
    if not any(p.glob("test_*.py")):
        raise UserError(f"design {design!r} has no certification suite yet (suites/{design}/).")
    return p


def cmd_certify(a) -> int:
    if a.design == "all":
        names = [d for d in designs.available() if any((ROOT / "suites" / d).glob("test_*.py"))]
        if not names:
            raise UserError("no design has both a compose file and a suite yet.")
        label = "certify-all"
    else:
        names = [designs.canonical(a.design)]
        label = f"certify-{names[0]}"
    paths = [str(suite_path(n)) for n in names]
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
    latest = REPORTS / "latest"
    summary = {}
    if (latest / "summary.json").exists():
        import json
        summary = json.loads((latest / "summary.json").read_text())
        print(f"mailha: report {latest.resolve() / 'index.html'}", file=sys.stderr)
    if rc == 2:
        return EXIT_INTERRUPTED
    if rc in (3,):
        return EXIT_HARNESS
    if rc in (4, 5):
        return EXIT_USAGE
    if summary.get("exit_code") is not None:
        return int(summary["exit_code"])
    if rc == 1:
        return EXIT_VIOLATED
    return EXIT_OK


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
