"""A short seeded chaos run against design I (the long ones are 'mailha chaos mirror --duration 30m'
before a release): random faults from the catalogue under the mixed workload; afterwards no
acknowledged mail lost, every fault applied and healed, one VIP holder at a time, replicas
identical, every protocol working. What clients could notice (duplicates, deleted mail back, a
UID shown for two messages) is recorded under users_unaware. The seed is --mailha-seed when
given, else 7, so CI runs the same schedule."""
import pytest

from chaos import runner, schedule
from harness import designs

FAULTS = ["kill", "stop", "pause", "daemon-kill", "partition", "isolate", "link-latency", "link-hold"]


@pytest.mark.claim("mirror", "data_redundancy", "failover_no_interruption", "single_active", "read_either",
                   "users_unaware", "smtp", "pop", "imap", "webmail")
def test_short_seeded_chaos_run_keeps_the_claims(mirror, mailha_session, checks, evidence, request):
    seed = request.config.getoption("mailha_seed") or 7
    design = schedule.design_from_meta(designs.read_x_mailha(mirror.files), "mirror")
    # short and sparse: a smoke test of the whole chaos path in CI; hunting compositions of faults is
    # what the long pre-release runs are for (docs/chaos.md)
    plan = schedule.generate(seed, duration_s=80, interval_s=20, faults=FAULTS, design=design)
    mailha_session.progress.step("chaos schedule\n" + plan.describe())
    result = runner.run_schedule(mirror, mailha_session.history, plan, thr=mailha_session.thresholds, seed=seed,
                                 tag=f"ch{seed}x{mailha_session.run.run_id[-4:]}", progress=mailha_session.progress,
                                 checks=checks, evidence=evidence, design="mirror")
    assert not result["driver_errors"], f"faults not applied or healed: {result['driver_errors']}"
    bad = {name: r.get("reasons") for name, r in result.items()
           if isinstance(r, dict) and r.get("valid") == "fail"}
    assert not bad, f"claims broken under chaos (seed {seed}): {bad}"
    broken = {p: r["error"] for p, r in result["e2e"].items() if not r["ok"]}
    assert not broken, f"protocols not working after the chaos run: {broken}"
