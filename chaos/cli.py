"""``mailha chaos DESIGN``: a long, seeded chaos run (chaos/runner.py) — or ``--replay RUN_DIR``."""
from __future__ import annotations

import sys

from harness.errors import EXIT_HARNESS


def cmd_chaos(a) -> int:
    from harness.progress import Progress

    from . import runner

    faults = [f for x in (a.faults or []) for f in x.split(",") if f]
    if a.plan:
        _, schedule = runner.plan(a.design or "mirror", duration=a.duration, seed=a.seed, faults=faults or None,
                                  interval=a.interval, overrides=a.override or [], replay=a.replay)
        print(schedule.to_json() if a.plan == "json" else schedule.describe())
        return 0
    summary = runner.run(a.design or "mirror", duration=a.duration, seed=a.seed, faults=faults or None,
                         interval=a.interval, overrides=a.override or [], replay=a.replay,
                         thresholds=a.threshold, progress=Progress())
    code = summary.get("exit_code", EXIT_HARNESS)
    print(f"chaos run {summary['run_dir']}: exit {code}", file=sys.stderr)
    for reason in summary.get("reasons", [])[:10]:
        print(f"  {reason.get('text') if isinstance(reason, dict) else reason}", file=sys.stderr)
    print(f"report: {summary['run_dir']}/index.html", file=sys.stderr)
    return int(code)


def add_parsers(sub) -> None:
    s = sub.add_parser("chaos", help="a seeded chaos run: random faults under load, then every checker",
                       description="Bring DESIGN up, run a steady mixed workload while a seeded nemesis applies "
                                   "random faults, heal, recover, read every replica, check, report.")
    s.add_argument("design", nargs="?", help="the design (default mirror; taken from the run with --replay)")
    s.add_argument("--duration", default="5m", help="how long faults are applied, e.g. 90s, 30m (default 5m)")
    s.add_argument("--seed", type=int, help="the schedule's seed (default random, recorded)")
    from harness.faults import CATALOGUE, GROUPS

    drawn = ",".join(n for n, f in CATALOGUE.items() if f.scheduled)
    s.add_argument("--faults", action="append", metavar="LIST",
                   help=f"comma-separated faults ({drawn}) or groups ({','.join(GROUPS)}); default: every fault "
                        f"that applies to the design (per tier: x-mailha chaos.faults)")
    s.add_argument("--interval", default="20s", help="mean time between faults (default 20s)")
    s.add_argument("--override", "-o", action="append", metavar="FILE", help="compose override file (repeatable)")
    s.add_argument("--threshold", action="append", metavar="NAME=VALUE", help="override a claim threshold")
    s.add_argument("--replay", metavar="RUN_DIR", help="run the schedule stored in a previous chaos run again")
    s.add_argument("--plan", nargs="?", const="text", choices=["text", "json"],
                   help="print the fault schedule these options give (as a table, or the schedule.json a run "
                        "would write) and stop: nothing is started")
    s.set_defaults(fn=cmd_chaos)
