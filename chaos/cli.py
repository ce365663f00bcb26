"""``mailha chaos DESIGN``: a long, seeded chaos run (chaos/runner.py) — or ``--replay RUN_DIR``."""
from __future__ import annotations

import sys

from harness.errors import EXIT_HARNESS


def cmd_chaos(a) -> int:
    from harness.progress import Progress

    from . import runner

    faults = [f for x in (a.faults or []) for f in x.split(",") if f]
    if a.shrink:
        return _shrink(a, runner)
    for opt in ("claim", "repeat", "max_replays"):
        if getattr(a, opt) is not None:
            print(f"mailha chaos: --{opt.replace('_', '-')} goes with --shrink RUN_DIR.", file=sys.stderr)
            return 2
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


def _shrink(a, runner) -> int:
    """``--shrink``: exit 1 when a violating schedule was written, 0 when the run's violation
    did not come back in its replays (nothing to shrink against), 2 for bad input."""
    from harness.progress import Progress

    if a.design:
        print(f"mailha chaos: --shrink takes the design from the run; drop {a.design!r}.", file=sys.stderr)
        return 2
    for opt in ("seed", "faults", "override", "threshold", "replay", "plan"):
        if getattr(a, opt):
            print(f"mailha chaos: --shrink replays the run's own schedule, overrides and thresholds; "
                  f"--{opt} does not go with it.", file=sys.stderr)
            return 2
    r = runner.shrink_run(a.shrink, claims=a.claim, repeat=a.repeat, max_replays=a.max_replays, progress=Progress())
    best = r["schedule"]
    print(f"shrink {r['run_dir']}: {r['outcome']} after {r['replays']} replays "
          f"(against {', '.join(r['claims'])})", file=sys.stderr)
    if best is None:
        print("  the original schedule did not violate those claims again: nothing to shrink against",
              file=sys.stderr)
        return 0
    print(f"  {len(r['original'])} faults -> {len(best)}; kept cuts: {'; '.join(r['kept']) or 'none'}", file=sys.stderr)
    print(best.describe())
    print(f"replay it: mailha chaos --replay {r['run_dir']}", file=sys.stderr)
    return 1


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
    s.add_argument("--shrink", metavar="RUN_DIR",
                   help="replay a chaos run that violated claims with faults removed and windows shortened, "
                        "and write the smallest schedule that still violates them (chaos/shrink.py)")
    s.add_argument("--claim", action="append", metavar="ID",
                   help="with --shrink: the claim to keep violating (repeatable; default: those the run violated)")
    s.add_argument("--repeat", type=int, metavar="N", help="with --shrink: replays per cut before it is dropped (default 3)")
    s.add_argument("--max-replays", type=int, metavar="N", help="with --shrink: replays in all (default 40)")
    s.add_argument("--plan", nargs="?", const="text", choices=["text", "json"],
                   help="print the fault schedule these options give (as a table, or the schedule.json a run "
                        "would write) and stop: nothing is started")
    s.set_defaults(fn=cmd_chaos)
