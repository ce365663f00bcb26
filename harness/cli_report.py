"""``mailha analyze RUN_DIR`` and ``mailha report RUN_DIR [--merge RUN_DIR...] [--out DIR]``.

analyze: re-run every stored check on the stored history (no cluster, no Docker); exit 0
when every verdict and number reproduces, 1 otherwise.
report: re-render summary.json, claims-junit.xml and index.html from the stored files;
with --merge, combine several runs into one matrix. Its exit code is the summary's
(docs/exit-codes.md), so CI can gate on a merged nightly matrix.
"""
from __future__ import annotations

import sys

from .errors import EXIT_OK, EXIT_VIOLATED, UserError


def cmd_analyze(a) -> int:
    from .report.analyze import analyze, format_line
    from .store import open_run

    run = open_run(a.run_dir)
    outcomes = analyze(run)
    if not outcomes:
        print(f"{run.path}: no stored checks to re-run (no checks.json).")
        return EXIT_OK
    for o in outcomes:
        print(format_line(o))
    same = sum(1 for o in outcomes if o.status == "same")
    diff = sum(1 for o in outcomes if o.status == "DIFFERENT")
    err = len(outcomes) - same - diff
    print(f"{len(outcomes)} checks re-run on {run.path / 'history.jsonl'}: {same} same, {diff} different"
          + (f", {err} could not run" if err else "") + ".")
    return EXIT_OK if same == len(outcomes) else EXIT_VIOLATED


def cmd_report(a) -> int:
    from . import report

    if a.merge:
        if a.run_dir:
            raise UserError("give the runs to merge after --merge only (mailha report --merge RUN_DIR RUN_DIR...).")
        out, summary = report.merge(a.merge, a.out)
    else:
        if not a.run_dir:
            raise UserError("name a run directory (e.g. reports/latest), or --merge several.")
        if a.out:
            raise UserError("--out is for --merge; 'mailha report RUN_DIR' re-renders into RUN_DIR itself.")
        out, summary = report.render_dir(a.run_dir)
    c = summary["counts"]
    print(f"{out / 'index.html'}")
    print(f"claims: {c['agree']} agree, {c['exceeds']} exceed, {c.get('confirmed', 0)} confirm a limitation, "
          f"{c.get('review', 0)} to review, {c['disagree']} disagree, {c['unknown']} unknown, "
          f"{c['not certified']} not certified (designs in the run: {', '.join(summary['designs_in_run']) or 'none'})")
    print(f"exit {summary['exit_code']}: {summary['exit_meaning']}", file=sys.stderr)
    return int(summary["exit_code"])


def cmd_trace(a) -> int:
    import json

    from .report.trace import format_rows, trace
    from .store import open_run

    run = open_run(a.run_dir)
    token = a.token.strip()
    if len(token) < 6:
        raise UserError(f"{a.token!r} is too short to name one message; give its token (e.g. mh-5edf8e59x0-12).")
    try:
        result = trace(run.path, token)
    except ValueError as e:  # a damaged history.jsonl
        raise UserError(f"{run.path} cannot be traced: {e}.") from None
    if a.json:
        print(json.dumps({**result, "rows": [r.to_dict() for r in result["rows"]]}, indent=2))
    else:
        print(format_rows(result))
    return EXIT_OK if result["rows"] else EXIT_VIOLATED


def add_parsers(sub) -> None:
    s = sub.add_parser("analyze", help="re-run the checkers on a stored history; exit 1 if a verdict does not reproduce")
    s.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/latest")
    s.set_defaults(fn=cmd_analyze)

    s = sub.add_parser("report", help="re-render a run's HTML report, summary and claims JUnit (or merge runs)")
    s.add_argument("run_dir", metavar="RUN_DIR", nargs="?", help="a run directory, e.g. reports/latest")
    s.add_argument("--merge", nargs="+", metavar="RUN_DIR", help="combine these runs into one matrix")
    s.add_argument("--out", metavar="DIR", help="where the merged report goes (default: a new reports/<id>-merged)")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("trace", help="everything a run recorded about one message (history, logs, faults), in time order")
    s.add_argument("run_dir", help="a run directory (reports/...)")
    s.add_argument("token", help="the message's token, as the checkers' examples and the report name it")
    s.add_argument("--json", action="store_true", help="the rows as JSON")
    s.set_defaults(fn=cmd_trace)

