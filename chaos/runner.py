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
from types import SimpleNamespace

from harness import designs, e2e
from harness.certification import num, users_noticing
from harness.cluster import Cluster, owner_label, sweep
from harness.errors import FaultError, UserError
from harness.history import History
from harness.plugin import Checks, Evidence
from harness.progress import Progress
from harness.scenario import Scenario
from harness.store import RunDir
from harness.thresholds import parse as parse_thresholds

from . import schedule as sched

TEST = "chaos"
#: schedule fault names -> (Nemesis fault, parameter renames)
APPLY = {
    "kill": ("kill", {}), "stop": ("stop", {}), "pause": ("pause", {}), "daemon-kill": ("daemon-kill", {}),
    "isolate": ("isolate", {}), "partition": ("partition", {}),
    "link-latency": ("link-latency", {"latency": "latency_ms", "jitter": "jitter_ms"}),
    "link-bandwidth": ("link-bandwidth", {"rate": "rate_kbps"}),
    "link-hold": ("link-hold", {}),
    "nas-stall": ("pause", {}),      # a frozen NAS: its clients hang
    "ldap-down": ("stop", {}),
}


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

    def _apply(self, spec: sched.FaultSpec) -> None:
        fault, renames = APPLY[spec.fault]
        params = {renames.get(k, k): v for k, v in spec.params.items()}
        targets = list(spec.target) if spec.target else [spec.selector]
        fids = []
        for tgt in targets:
            try:
                fids.append(self.sc.nemesis.apply(fault, tgt, **params))
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
                self._apply(spec)
                heapq.heappush(events, (spec.at + spec.duration, n + k, "heal", spec.id))
            else:
                self._heal(spec)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=120)


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
    session = SimpleNamespace(run=rd, history=h, thresholds=thr, seed=seed, progress=progress)
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
        run_schedule(cluster, h, schedule, thr=thr, seed=seed, tag=f"c{rd.run_id[-4:]}", progress=progress,
                     checks=checks, evidence=evidence, design=design, counts=counts)
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
    summary = finish_run(rd)
    summary["run_dir"] = str(rd.path)
    return summary


def run_schedule(cluster, h: History, schedule: sched.Schedule, *, thr: dict, seed: int, tag: str,
                 progress: Progress, checks, evidence, design: str, counts: dict | None = None) -> dict:
    """Run ``schedule`` against a running cluster under the mixed workload, then recover, read,
    check and record the claims. Used by ``mailha chaos`` and by the suites' short chaos test."""
    if counts is None:
        counts = {"ok": 0, "fail": 0, "info": 0}
        h.listen(lambda e: counts.__setitem__(e.type, counts[e.type] + 1) if e.type in counts else None)
    stop_status = threading.Event()
    sc = Scenario(cluster, h, seed=seed, tag=tag, progress=progress, converge_s=thr["converge_s"] * 2)
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
    finally:
        stop_status.set()
    result = judge(sc, checks, evidence, thr, design, driver)
    result["e2e"] = e2e.roundtrip(sc.topo, h, f"mh-{sc.tag}-e2eend")
    for proto, claim in e2e.PROTO_CLAIM.items():
        r = result["e2e"].get(proto)
        if r is not None:
            evidence.record(design, claim, "Yes" if r["ok"] else "No", checks=["e2e"],
                            numbers={f"{proto}_after_chaos": num(r["seconds"], "s")},
                            note="" if r["ok"] else f"{proto} after the chaos run: {r['error']}")
    result["driver_errors"] = driver.errors
    result["faults_applied"] = driver.applied
    return result


def judge_users_unaware(sc: Scenario, m: dict, r: dict, evidence: Evidence, thr: dict, design: str) -> None:
    """'Most users are unaware': users who could notice something over the whole run — a duplicate,
    a deleted message back, a UID shown for two messages, a UIDVALIDITY change — against the bound."""
    ev = [e for e in sc.h.snapshot() if sc.window[0] <= e.t <= sc.window[1]]
    mail, mixed = users_noticing(ev, m, r)
    everyone = set(sc.topo.users())
    aware = (mail | mixed) & everyone
    ratio = len(aware) / len(everyone) if everyone else None
    bound = thr["broken_sessions_ratio"]
    counts = {"uid_reused": (r.get("uid_reused") or {}).get("count", 0),
              "uidvalidity_changed": (r.get("uidvalidity_changed") or {}).get("count", 0),
              "resurrected": sum(x.get("count", 0) for x in (m.get("resurrected") or {}).values()),
              "duplicated": (m.get("totals") or {}).get("duplicated", 0)}
    note = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items() if v)
    evidence.record(design, "users_unaware", "unknown" if ratio is None else ("Yes" if ratio <= bound else "No"),
                    checks=["messages", "replicas"], note=(f"{len(aware)} of {len(everyone)} users could notice ({note})"
                                                          if aware else ""),
                    numbers={"chaos_users_noticing": num(len(aware)), "chaos_noticing_ratio": num(ratio, "", bound),
                             **{f"chaos_{k}": num(v) for k, v in counts.items()}})


def judge(sc: Scenario, checks: Checks, evidence: Evidence, thr: dict, design: str, driver: Driver) -> dict:
    """Every checker over the whole run, and the claims a chaos run evidences."""
    out = {}
    win = sc.window
    out["faults"] = checks.run("faults", design=design, window=win)
    # judged: acknowledged mail lost; counted: duplicates (at-least-once) and deleted mail back
    out["messages"] = m = checks.run("messages", design=design, window=win, allow_duplicates=True,
                                     fail_on_resurrected=False, prefix=f"mh-{sc.tag}-")
    out["availability"] = a = checks.run("availability", design=design, window=win, bound_s=thr["no_interruption_s"])
    if sc.vip:
        out["split_brain"] = s = checks.run("split_brain", design=design, window=win)
    if len(sc.topo.data_nodes()) >= 2:
        # judged: the replicas' final state; counted (users_unaware below): what clients saw meanwhile
        out["replicas"] = r = checks.run("replicas", design=design, window=win, allow_duplicates=True,
                                         prefix=f"mh-{sc.tag}-", fail_on_client_view=False)
        out["convergence"] = checks.run("convergence", design=design, window=win, bound_s=thr["converge_s"] * 2)
    t = m.get("totals") or {}
    back = sum(x.get("count", 0) for x in (m.get("resurrected") or {}).values())
    evidence.record(design, "data_redundancy", {"pass": "Yes", "fail": "No"}.get(m["valid"], "unknown"),
                    checks=["messages"], note="; ".join((m.get("reasons") or []) + (
                        [f"{back} deleted messages came back (dsync merge)"] if back else [])),
                    numbers={"chaos_acked": num(t.get("acked")), "chaos_lost": num(t.get("lost"), "", 0),
                             "chaos_duplicated": num(t.get("duplicated")), "chaos_deleted_came_back": num(back)})
    # availability over the run per protocol, against the design's uptime claim where it has one
    nums, worst_gap, reasons = {}, 0.0, []
    for proto, d in sorted((a.get("protos") or {}).items()):
        av = (d.get("availability") or {}).get("value")
        gap = (d.get("longest_gap") or {}).get("value") or 0.0
        nums[f"{proto}_availability"] = num(av, "", thr["availability"], ">=")
        nums[f"{proto}_longest_outage"] = num(gap, "s", thr["no_interruption_s"])
        worst_gap = max(worst_gap, gap)
        if av is not None and av < thr["availability"]:
            reasons.append(f"{proto}: availability {av:.4f} < {thr['availability']}")
    out["availability_numbers"] = nums
    from harness.claims import catalogue
    cat = catalogue()
    if (design, "uptime_999") in cat.claims:
        evidence.record(design, "uptime_999", "unknown" if a["valid"] == "unknown" else ("No" if reasons else "Yes"),
                        numbers=nums, note="; ".join(reasons), checks=["availability"])
    if (design, "failover_no_interruption") in cat.claims:
        ok = a["valid"] == "pass"
        # judged on the longest outage only: the uptime figure is shown, but this claim sets no
        # uptime bound (only the high-end design claims 99.9 %), so none is printed next to it
        shown = {k: (num(v["value"], "") if k.endswith("_availability") else v) for k, v in nums.items()}
        evidence.record(design, "failover_no_interruption", "unknown" if a["valid"] == "unknown" else ("Yes" if ok else "No"),
                        numbers=shown, note="; ".join(a.get("reasons") or []), checks=["availability"])
    if sc.vip and (design, "single_active") in cat.claims:
        evidence.record(design, "single_active", {"pass": "Yes", "fail": "No"}.get(s["valid"], "unknown"),
                        numbers={"chaos_split_brain_s": num(s.get("split_brain_s"), "s", 0)},
                        note="; ".join(s.get("reasons") or []), checks=["split_brain"])
    if (design, "users_unaware") in cat.claims and "replicas" in out:
        judge_users_unaware(sc, m, r, evidence, thr, design)
    if "replicas" in out and (design, "read_either") in cat.claims:
        evidence.record(design, "read_either", {"pass": "Yes", "fail": "No"}.get(r["valid"], "unknown"),
                        numbers={"chaos_uid_renumbered": num((r.get("totals") or {}).get("renumbered"))},
                        note="; ".join(r.get("reasons") or []), checks=["replicas", "convergence"])
    # faults the nemesis could not apply or heal are failed fault ops in the history: the faults
    # checker fails and the summary's exit code says the harness could not do what it scheduled
    return out
