"""A short seeded chaos run against design I (the long ones are 'mailha chaos mirror --duration 30m'
before a release): random faults from the catalogue under the mixed workload; afterwards no
acknowledged mail lost, every fault applied and healed, one VIP holder at a time, replicas
identical, every protocol working. What clients could notice (duplicates, deleted mail back, a
UID shown for two messages) is judged under users_unaware. Data redundancy is not evidenced here
(no data holder is lost in this schedule) unless mail is lost: a violation counts from any test. The seed is --mailha-seed when
given, else 7, so CI runs the same schedule."""
import pytest

from chaos import runner, schedule
from harness import designs
from harness.certification import ExpectedDisagreement

from .test_failover import EXPECTED, SESSIONS_CUT

FAULTS = ["kill", "stop", "pause", "daemon-kill", "partition", "isolate", "link-latency", "link-hold"]


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=SESSIONS_CUT)
@pytest.mark.claim("mirror", "failover_no_interruption", "single_active", "read_either",
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
    assert not result["harness_errors"], f"faults not applied or healed: {result['harness_errors']}"
    result["outcome"].assert_claims_hold(EXPECTED)
