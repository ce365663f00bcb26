"""A short seeded chaos run against design V (the pre-release form is 'mailha chaos high_end
--duration 30m'): random faults from each tier's list (x-mailha.chaos.faults) under the mixed
workload; afterwards no acknowledged mail lost, every fault applied and healed, one holder per VIP,
every front end showing every mailbox, every protocol back. The run's own availability per
protocol and the fault rate it was measured under are recorded beside the uptime projection
(test_tiers.py, the verdict of uptime_999). The seed is --mailha-seed when given, else 7."""
import pytest

from chaos import runner, schedule
from harness import designs
from harness.certification import ExpectedDisagreement

FAULTS = ["kill", "stop", "pause", "daemon-kill"]

#: measured (seed 7, `…-9d31`, docs/high-end.md): a chaos run judges service against the
#: no-interruption bound with sessions; every move of an LVS VIP cuts the open webmail and IMAP
#: sessions (48 of 50 webmail sessions broken), and after LVS3's VIP moved the reconnecting clients
#: stalled the shared store for over 2 s, so LVS3's IMAP check (login + SELECT, 2-s timeout) took
#: every front end out at once: IMAP 9 s and POP3 34 s without service
CUT_AND_HERD = ("VIP moves cut webmail and IMAP sessions, and after LVS3's VIP moved its IMAP check (2-s timeout) "
                "took every front end out at once during a shared-store stall: IMAP/POP3 out 9-34 s")


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=CUT_AND_HERD)
@pytest.mark.claim("high_end", "processing_redundancy", "separate_tiers", "smtp", "pop", "imap", "webmail")
def test_short_seeded_chaos_run_keeps_the_claims(cert, mailha_session, checks, evidence, request):
    seed = request.config.getoption("mailha_seed") or 7
    design = schedule.design_from_meta(designs.read_x_mailha(cert.cluster.files), "high_end")
    # 90 s: seed 7's schedule then moves LVS3's VIP twice (the run measured above); at 60 s it holds
    # two faults that move no VIP
    plan = schedule.generate(seed, duration_s=90, interval_s=15, faults=FAULTS, design=design)
    mailha_session.progress.step("chaos schedule\n" + plan.describe())
    result = runner.run_schedule(cert.cluster, mailha_session.history, plan, thr=mailha_session.thresholds, seed=seed,
                                 tag=f"ch{seed}x{mailha_session.run.run_id[-4:]}", progress=mailha_session.progress,
                                 checks=checks, evidence=evidence, design="high_end")
    assert not result["harness_errors"], f"faults not applied or healed: {result['harness_errors']}"
    result["outcome"].assert_claims_hold({"separate_tiers": CUT_AND_HERD})
