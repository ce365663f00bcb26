"""The ``mailha`` command line.

    mailha doctor                         host facts and the backends mailha will use
    mailha images build [ROLE...]         build (or confirm) the role images
    mailha images prune [--dry-run]       remove role images that are no longer current
    mailha up DESIGN [--override FILE]    bring a design up and leave it running
    mailha status                         the mailha runs on this engine
    mailha down [RUN_ID]                  save logs and remove a run
    mailha sweep [--all]                  remove runs whose owner process died (or all runs)
    mailha certify DESIGN|all             run the design's suite and write the compliance report
    mailha analyze RUN_DIR                re-run the checkers on a stored history
    mailha report RUN_DIR [--merge ...]   re-render the HTML report
    mailha chaos DESIGN ...               a seeded, long chaos run

Exit codes: see harness/errors.py (0 agree, 1 violated, 2 usage, 3 harness, 4 unknown).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from . import __version__
from .errors import EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_USAGE, MailhaError, UserError
from .progress import Progress


def _sigterm_to_interrupt(signum, frame):
    # SIGTERM must run the same cleanup as Ctrl-C
    raise KeyboardInterrupt(f"signal {signum}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one sentence, usage exit code
        self.print_usage(sys.stderr)
        sys.stderr.write(f"mailha: {message}.\n")
        sys.exit(EXIT_USAGE)


def cmd_doctor(a) -> int:
    from . import doctor

    facts = doctor.gather(try_pull=not a.no_pull)
    print(json.dumps(facts.to_dict(), indent=2) if a.json else doctor.render(facts))
    return 0 if facts.ok else EXIT_HARNESS


def cmd_images(a) -> int:
    from . import images

    if a.action == "list":
        for name, role in images.ROLES.items():
            print(f"{name:10s} {images.resolve(name) or '(not built)':32s} {role.what}")
        return 0
    if a.action == "prune":
        if a.roles:
            raise UserError("'mailha images prune' takes no role names; it keeps the current image of every role.")
        res = images.prune(dry_run=a.dry_run, progress=Progress())
        verb = "would remove" if a.dry_run else "removed"
        for line in res["skipped"]:
            print(f"kept (in use): {line}")
        print(f"{verb} {len(res['removed'])} stale images; kept the current image of every role.")
        return 0
    results = images.build(a.roles or None, force=a.force, no_cache=a.no_cache, progress=Progress())
    built = [r for r, v in results.items() if v["status"] == "built"]
    print(f"{len(results)} images: {len(built)} built, {len(results) - len(built)} up to date or supplied.")
    return 0


def cmd_up(a) -> int:
    from .cluster import Cluster

    from .cluster import sweep

    c = Cluster(a.design, overrides=a.override or [], owner="cli", progress=Progress())
    sweep(progress=c.progress)  # what killed runs left behind would block the subnets
    try:
        c.up(timeout=a.timeout)
    except KeyboardInterrupt:
        c.down(quiet=True)
        raise
    print(f"run {c.run_id} ({c.design}) is up; logs and config in {c.dir}")
    for proto, ep in (c.meta.get("endpoints") or {}).items():
        print(f"  {proto:6s} {ep['host']}:{ep['port']}")
    print(f"take it down with: mailha down {c.run_id}")
    return 0


def cmd_status(a) -> int:
    from .cluster import runs

    rs = runs()
    if a.json:
        print(json.dumps(rs, indent=2))
        return 0
    if not rs:
        print("no mailha runs on this Docker engine.")
        return 0
    for r in rs:
        # compose names containers <project>-<service>-<n>; the project is mailha-<run id>
        pre = f"mailha-{r['run_id']}-"
        states = ", ".join(f"{n[len(pre):].removesuffix('-1') if n.startswith(pre) else n}={s}"
                           for n, s in sorted(r["containers"].items()))
        owner = "cli" if r["owner"] == "cli" else (r["owner"] + ("" if r["alive"] else " (dead: 'mailha sweep' removes it)"))
        print(f"{r['run_id']}  design={r['design']}  owner={owner}\n  {len(r['containers'])} containers: {states}")
    return 0


def cmd_down(a) -> int:
    from .cluster import remove_run, runs, save_run_logs
    from pathlib import Path

    rs = runs()
    if a.all:
        targets = rs
    elif a.run_id:
        targets = [r for r in rs if r["run_id"] == a.run_id]
        if not targets:
            raise UserError(f"no run {a.run_id!r} on this engine; 'mailha status' lists the runs.")
    else:
        cli_runs = [r for r in rs if r["owner"] == "cli"]
        if not cli_runs:
            print("no cluster started by 'mailha up' is running.")
            return 0
        if len(cli_runs) > 1:
            raise UserError(f"{len(cli_runs)} runs are up ({', '.join(r['run_id'] for r in cli_runs)}); name one, or use --all.")
        targets = cli_runs
    for r in targets:
        if r.get("dir"):
            save_run_logs(r["run_id"], Path(r["dir"]) / "clusters" / r["run_id"] / "logs")
        removed = remove_run(r["run_id"])
        print(f"removed run {r['run_id']}: {removed['containers']} containers, {removed['networks']} networks, "
              f"{removed['volumes']} volumes" + (f"; logs in {r['dir']}" if r.get("dir") else ""))
    return 0


def cmd_sweep(a) -> int:
    from .cluster import sweep

    done = sweep(all_runs=a.all, progress=Progress())
    if not done:
        print("nothing to sweep." if a.all else "nothing to sweep (runs with a live owner are kept; --all removes them too).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailha", description="Certify the high-availability claims of clustered mail systems.")
    p.add_argument("--version", action="version", version=f"mailha {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("doctor", help="host facts and the backends mailha will use")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-pull", action="store_true", help="do not try a registry pull")
    s.set_defaults(fn=cmd_doctor)

    s = sub.add_parser("images", help="build, list or prune the role images")
    s.add_argument("action", choices=["build", "list", "prune"])
    s.add_argument("roles", nargs="*", metavar="ROLE")
    s.add_argument("--force", action="store_true", help="rebuild even when up to date")
    s.add_argument("--no-cache", action="store_true", help="rebuild without Docker's layer cache (a cold build)")
    s.add_argument("--dry-run", action="store_true", help="prune: list what would be removed")
    s.set_defaults(fn=cmd_images)

    s = sub.add_parser("up", help="bring a design up and leave it running")
    s.add_argument("design")
    s.add_argument("--override", "-o", action="append", metavar="FILE", help="compose override file (repeatable)")
    s.add_argument("--timeout", type=float, default=240, help="bring-up deadline in seconds (default 240)")
    s.set_defaults(fn=cmd_up)

    s = sub.add_parser("status", help="the mailha runs on this engine")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_status)

    s = sub.add_parser("down", help="save logs and remove a run")
    s.add_argument("run_id", nargs="?")
    s.add_argument("--all", action="store_true", help="every mailha run, whoever owns it")
    s.set_defaults(fn=cmd_down)

    s = sub.add_parser("sweep", help="remove runs whose owner process is gone")
    s.add_argument("--all", action="store_true", help="remove every mailha run, live owners included")
    s.set_defaults(fn=cmd_sweep)

    # the commands that work on runs live next to what they drive
    from . import cli_certify, cli_report
    from chaos import cli as chaos_cli
    for mod in (cli_certify, cli_report, chaos_cli):
        mod.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started as a background job
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "fn", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return a.fn(a) or 0
    except MailhaError as e:
        sys.stderr.write(f"mailha: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("mailha: interrupted; what this command started has been removed.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
