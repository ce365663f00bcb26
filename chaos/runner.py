"""A chaos run: a design under a steady mixed workload while a seeded nemesis schedule applies
faults, then heal, recovery, final reads of every replica, every checker, and the report.

The schedule is generated before the cluster starts and written to ``schedule.json`` in the run
directory; ``replay`` runs a stored schedule again. Live progress is one status line (elapsed,
faults applied, operations ok/fail/info, active faults).
"""
from __future__ import annotations

import heapq
import threading
import time
from pathlib import Path

from harness import designs, judgements
from harness.certification import Certifier
from harness.cluster import Cluster, owner_label, sweep
from harness.errors import FaultError, UserError
from harness.history import History
from harness.session import Checks, Evidence, RunContext
from harness.progress import Progress
from harness.scenario import Scenario
from harness.store import RunDir
from harness.thresholds import parse as parse_thresholds

from . import schedule as sched

TEST = "chaos"


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h30m`` -> seconds."""
    t = str(text).strip().lower()
    total, n = 0.0, ""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        for ch in t:
            if ch.isdigit() or ch == ".":
                n += ch
            elif ch in units and n:
                total += float(n) * units[ch]
                n = ""
            else:
                raise ValueError
        if n:
            total += float(n)
    except ValueError:
        raise UserError(f"{text!r} is not a duration; write e.g. 90s, 5m or 1h.") from None
    if total <= 0:
        raise UserError(f"duration {text!r} must be positive.")
    return total


class Driver:
    """Follows the schedule: applies each fault at its time and heals it at its end."""

    def __init__(self, sc: Scenario, schedule: sched.Schedule, t0: float, progress: Progress):
        self.sc = sc
        self.schedule = schedule
        self.t0 = t0
        self.progress = progress
        self.applied = 0
        self.errors: list[str] = []
        self.active: dict[str, list[str]] = {}   # schedule id -> nemesis fault ids
        self.labels: dict[str, str] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="nemesis")
        #: heals in progress: schedule id -> (thread, targets). Each heal runs in its own thread, so a
        #: heal that waits on a dependency (a back end whose start needs the directory) never holds
        #: back the heal of that dependency; found by 'mailha chaos proxy --seed 7', where a back
        #: end's heal waited 90 s for LDAP while LDAP's heal waited behind it
        self.healing: dict[str, tuple[threading.Thread, set]] = {}

    def _apply(self, spec: sched.FaultSpec) -> None:
        # the schedule's fault names and parameters are the catalogue's (harness.faults): no mapping
        targets = list(spec.target) if spec.target else [spec.selector]
        fids = []
        for tgt in targets:
            try:
                fids.append(self.sc.nemesis.apply(spec.fault, tgt, **spec.params))
            except FaultError as e:
                self.errors.append(f"{spec.id} {spec.fault} {tgt}: {e}")
        if fids:
            self.active[spec.id] = fids
            self.applied += 1
            self.labels[spec.id] = f"{spec.fault} {','.join(self.sc.nemesis.active[f].target for f in fids)}"

    def _heal(self, sid: str) -> None:
        for fid in self.active.pop(sid, []):
            try:
                self.sc.nemesis.heal(fid)
            except FaultError as e:
                self.errors.append(f"heal {sid}: {e}")
        self.labels.pop(sid, None)

    def _run(self):
        events: list[tuple[float, int, str, object]] = []
        for k, spec in enumerate(self.schedule.faults):
            heapq.heappush(events, (spec.at, k, "apply", spec))
        n = len(events)
        while events and not self._stop.is_set():
            at, k, kind, spec = heapq.heappop(events)
            delay = self.t0 + at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if kind == "apply":
                if any("heal" in e for e in self.errors):
                    continue  # a failed heal leaves the cluster in an unknown state: no new faults
                if self._being_healed(spec):
                    # its target is still coming back: apply a second later, never block the loop
                    # (the heal it waits for may need another heal that is due meanwhile)
                    heapq.heappush(events, (at + 1.0, k, kind, spec))
                    continue
                self._apply(spec)
                heapq.heappush(events, (spec.at + spec.duration, n + k, "heal", spec.id))
            else:
                self._heal_async(spec)

    def _being_healed(self, spec) -> bool:
        """A heal still runs on one of the fault's targets (any, for a selector resolved later)."""
        busy = [where for t, where in self.healing.values() if t.is_alive()]
        return any(not spec.target or not where or where & set(spec.target) for where in busy)

    def _heal_async(self, sid: str) -> None:
        where = {self.sc.nemesis.active[f].target for f in self.active.get(sid, []) if f in self.sc.nemesis.active}
        t = threading.Thread(target=self._heal, args=(sid,), daemon=True, name=f"heal-{sid}")
        self.healing[sid] = (t, where)
        t.start()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=120)
        for t, _where in list(self.healing.values()):
            t.join(timeout=300)


def plan(design: str, *, duration: str | float = "5m", seed: int | None = None, faults=None,
         interval: str | float = "20s", overrides=(), replay: str | None = None) -> tuple[str, sched.Schedule]:
    """(design, schedule) of a chaos run, from the options or a stored run; touches no cluster."""
    if replay:
        try:
            schedule = sched.load(replay)
        except ValueError as e:
            raise UserError(str(e)) from None
        return designs.canonical(schedule.design.get("name") or design), schedule
    design = designs.canonical(design)
    files = [designs.compose_file(design), *[Cluster._check_override(o) for o in overrides]]
    dur = parse_duration(duration) if isinstance(duration, str) else float(duration)
    ivl = parse_duration(interval) if isinstance(interval, str) else float(interval)
    seed = seed if seed is not None else int.from_bytes(__import__("os").urandom(3), "big")
    try:
        return design, sched.generate(seed, dur, ivl, faults or None,
                                      sched.design_from_meta(designs.read_x_mailha(files), design))
    except ValueError as e:
        raise UserError(str(e)) from None


def run(design: str, *, duration: str | float = "5m", seed: int | None = None, faults=None,
        interval: str | float = "20s", overrides=(), replay: str | None = None, thresholds=None,
        reports: Path | None = None, progress: Progress | None = None) -> dict:
    """One chaos run end to end; returns the report summary (with ``exit_code`` and ``run_dir``)."""
    progress = progress or Progress()
    try:
        thr = parse_thresholds(thresholds)
    except ValueError as e:
        raise UserError(str(e)) from None
    design, schedule = plan(design, duration=duration, seed=seed, faults=faults, interval=interval,
                            overrides=overrides, replay=replay)
    seed = schedule.seed

    rd = RunDir.create(f"chaos-{design}", options={"duration_s": schedule.duration_s, "interval_s": schedule.interval_s,
                                                    "faults": list(schedule.fault_types), "overrides": list(overrides),
                                                    "replay": str(replay) if replay else None, "thresholds": thr},
                       seed=seed, base=reports)
    schedule.write(rd.path)
    rd.update_meta(kind="chaos", design=design)  # no pytest here: no junit.xml is expected
    progress.step(f"chaos run {rd.run_id}\n{schedule.describe()}")
    h = History(rd.file("history.jsonl"))
    rd.update_meta(t0_monotonic=h.t0, wall_t0=time.time())
    try:
        from harness import doctor
        rd.update_meta(host_facts=doctor.gather(try_pull=False).to_dict())
    except Exception as e:
        rd.update_meta(host_facts={"error": str(e)})
    h.context.update(test=TEST, design=design)
    session = RunContext(run=rd, history=h, thresholds=thr, seed=seed, progress=progress)
    checks, evidence = Checks(session, TEST), Evidence(session, TEST)

    sweep(progress=progress)
    cluster = Cluster(design, overrides=list(overrides), run_dir=rd.path, owner=owner_label(),
                      run_id=f"{rd.run_id}-{design}"[:60], progress=progress)
    counts = {"ok": 0, "fail": 0, "info": 0}
    h.listen(lambda e: counts.__setitem__(e.type, counts[e.type] + 1) if e.type in counts else None)
    started = time.monotonic()
    try:
        h.invoke("harness-cluster", "cluster-up", {"design": design, "run_id": cluster.run_id})
        cluster.up()
        h.ok("harness-cluster", "cluster-up", {"design": design, "seconds": round(time.monotonic() - started, 2),
                                               "timings": cluster.timings})
        result = run_schedule(cluster, h, schedule, thr=thr, seed=seed, tag=f"c{rd.run_id[-4:]}", progress=progress,
                              checks=checks, evidence=evidence, design=design, counts=counts, session=session)
        # the report states these first, and the run exits 3 (docs/exit-codes.md)
        rd.update_meta(harness_errors=result["harness_errors"])
    except KeyboardInterrupt:
        progress.note("interrupted: healing and removing the cluster")
        raise
    finally:
        h.close()
        try:
            cluster.down()
        except Exception as e:  # the cluster must go; say so if it did not
            progress.note(f"teardown failed: {e}")
        rd.update_meta(duration_s=round(time.monotonic() - started, 1))
    from harness.report import finish_run
    summary = finish_run(rd, screenshot=True)
    summary["run_dir"] = str(rd.path)
    return summary


def run_schedule(cluster, h: History, schedule: sched.Schedule, *, thr: dict, seed: int, tag: str,
                 progress: Progress, checks, evidence, design: str, counts: dict | None = None,
                 session=None) -> dict:
    """Run ``schedule`` against a running cluster under the mixed workload, then recover, read,
    check and record the claims the design declares for chaos runs (``judgements.under_chaos``).
    Used by ``mailha chaos`` and by the suites' short chaos tests.

    A failed heal does not stop the judging: what was recorded is judged and reported, with the
    failed heal first among the reasons (``harness_errors``); the run's exit code is then 3."""
    if counts is None:
        counts = {"ok": 0, "fail": 0, "info": 0}
        h.listen(lambda e: counts.__setitem__(e.type, counts[e.type] + 1) if e.type in counts else None)
    stop_status = threading.Event()
    sc = Scenario(cluster, h, seed=seed, tag=tag, progress=progress, converge_s=thr["converge_s"] * 2)
    harness_errors: list[str] = []
    driver = None
    try:
        with sc:
            t_run = time.monotonic()
            driver = Driver(sc, schedule, t_run, progress).start()

            # every 2 s on a terminal; in a log, every 15 s is enough to show the run is alive
            every = 2.0 if progress.tty else 15.0

            def status():
                while not stop_status.wait(every):
                    el = time.monotonic() - t_run
                    act = "; ".join(driver.labels.values()) or "none"
                    progress.status(f"chaos {el:5.0f}/{schedule.duration_s:.0f} s  faults {driver.applied}/{len(schedule)}"
                                    f"  ops ok={counts['ok']} fail={counts['fail']} info={counts['info']}  active: {act}",
                                    force=True)
            threading.Thread(target=status, daemon=True).start()
            remaining = schedule.duration_s - (time.monotonic() - t_run)
            while remaining > 0:
                time.sleep(min(1.0, max(remaining, 0)))
                remaining = schedule.duration_s - (time.monotonic() - t_run)
            driver.stop()
    except (FaultError, AssertionError) as e:  # a heal that failed, a node that never came back
        harness_errors.append(f"recovery failed: {e}")
        progress.note(f"chaos: {harness_errors[-1]} — judging what was recorded")
    finally:
        stop_status.set()
    if driver is not None:
        harness_errors = [f"fault: {x}" for x in driver.errors if "heal" in x] + harness_errors + \
            [f"fault: {x}" for x in driver.errors if "heal" not in x]
    ctx = session or RunContext(run=checks.s.run, history=h, thresholds=thr, seed=seed, progress=progress)
    cert = Certifier(design=design, cluster=cluster, session=ctx, checks=checks, evidence=evidence, nodeid=checks.nodeid)
    try:
        result = judgements.under_chaos(cert, sc)
        if not any("recovery failed" in x for x in harness_errors):
            result["e2e"] = judgements.protocols_work(cert, sc, "after-chaos")
        else:
            result["e2e"] = {}
    except Exception as e:  # a harness defect must not lose the run: what was recorded is kept, exit 3
        harness_errors.append(f"judging failed: {type(e).__name__}: {e}")
        progress.note(f"chaos: {harness_errors[-1]}")
        result = {"e2e": {}}
    # under pytest the test's outcome comes from junit.xml; a run of its own says it here
    cert.finish(outcome=None if session is None else ("error" if harness_errors else "passed"))
    result["claims"] = {c: r.measured for c, r in cert.outcome.results.items()}
    result["reasons"] = {c: r.reasons for c, r in cert.outcome.results.items() if r.reasons}
    result["driver_errors"] = driver.errors if driver else []
    result["harness_errors"] = harness_errors
    result["faults_applied"] = driver.applied if driver else 0
    result["outcome"] = cert.outcome
    return result


def shrink_run(run_dir: str, *, claims=None, repeat: int | None = None, max_replays: int | None = None,
               reports: Path | None = None, progress: Progress | None = None) -> dict:
    """``mailha chaos --shrink RUN_DIR``: replay the run's schedule with cuts (chaos/shrink.py)
    under the run's own overrides and thresholds, keep every replay's run directory under the
    shrink run's ``replays/``, write the smallest violating schedule as the shrink run's
    ``schedule.json`` (so ``--replay`` takes it) and every replay in ``shrink.json``."""
    import itertools
    import json

    from harness.errors import EXIT_HARNESS

    from . import shrink

    progress = progress or Progress()
    src = Path(run_dir)
    try:
        schedule = sched.load(src)
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        meta = json.loads((src / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    opts = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    design = designs.canonical(schedule.design.get("name") or meta.get("design") or "mirror")
    overrides = list(opts.get("overrides") or [])
    defaults = parse_thresholds(None)
    thresholds = [f"{k}={v}" for k, v in (opts.get("thresholds") or {}).items() if defaults.get(k) != v]
    target = set(claims or [])
    if not target:
        try:
            target = shrink.violated(json.loads((src / "summary.json").read_text()), design)
        except (OSError, ValueError):
            target = set()
    if not target:
        raise UserError(f"{src} violated no claim of {design}; name the claims to shrink against with --claim.")
    repeat = shrink.REPEAT if repeat is None else max(1, int(repeat))
    max_replays = shrink.MAX_REPLAYS if max_replays is None else max(1, int(max_replays))
    out = RunDir.create(f"shrink-{design}", seed=schedule.seed, base=reports,
                        options={"source": str(src), "claims": sorted(target), "repeat": repeat,
                                 "max_replays": max_replays, "overrides": overrides, "thresholds": thresholds})
    out.update_meta(kind="shrink", design=design)
    progress.step(f"shrink {out.run_id}: {src.name} ({len(schedule)} faults) against {', '.join(sorted(target))}; "
                  f"up to {repeat} replays per cut, {max_replays} in all")
    numbers = itertools.count(1)
    replays: list[str] = []

    def attempt(s: sched.Schedule):
        d = out.path / "candidates" / f"{next(numbers):03d}"
        d.mkdir(parents=True)
        s.write(d)
        summary = run(design, replay=str(d), overrides=overrides, thresholds=thresholds,
                      reports=out.path / "replays", progress=progress)
        replays.append(summary.get("run_dir", ""))
        if summary.get("exit_code") == EXIT_HARNESS:
            return None
        return shrink.violated(summary, design)

    def save(outcome: str, log: list[dict], best: sched.Schedule | None, kept: list[str]) -> None:
        for entry, rd in zip(log, replays):
            entry["run_dir"] = rd
        if best is not None:
            best.write(out.path)
        out.write_json("shrink.json", {
            "source": str(src), "design": design, "claims": sorted(target), "outcome": outcome,
            "original": {"faults": len(schedule), "weight": list(shrink.weight(schedule))},
            "smallest": None if best is None else {"faults": len(best), "weight": list(shrink.weight(best)),
                                                  "schedule": json.loads(best.to_json())},
            "kept": kept, "replays": log})

    def saw(log: list[dict], smallest: sched.Schedule | None, kept: list[str]) -> None:
        save("running (interrupted if it stays so)", log, smallest, kept)  # after every replay

    result = shrink.shrink(schedule, target, attempt, repeat=repeat, max_replays=max_replays, note=progress.note,
                           saw=saw)
    best = result["schedule"]
    save(result["outcome"], result["log"], best, result["kept"])
    return {"run_dir": str(out.path), "outcome": result["outcome"], "schedule": best, "claims": sorted(target),
            "replays": result["replays"], "kept": result["kept"], "original": schedule}
