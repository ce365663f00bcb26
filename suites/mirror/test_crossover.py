"""Design I's crossover cable: the watchdog line between the servers, and the replication link."""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios

VIP_BACK_UNSYNCED = (
    "deleted mail comes back: the VIP went to the peer and back while the replication link was cut, the "
    "users deleted through the peer, and when the link returns the full sync that merges the two replicas "
    "re-saves those messages on both servers instead of carrying the deletes "
    "(docs/mirror-findings.md, issue 15)")


@pytest.mark.claim("mirror", "watchdog", "single_active", "read_either")
def test_cut_crossover_keeps_one_active_server_and_replicas_converge_after(cert):
    scenarios.crossover_cut(cert).assert_claims_hold()


@pytest.mark.parametrize("fault,params", [
    ("link-latency", {"latency": 250, "jitter": 50}),
    ("link-bandwidth", {"rate": 16}),
    ("link-hold", {}),
], ids=["slow", "narrow", "held"])
@pytest.mark.claim("mirror", "read_either")
def test_degraded_replication_link_loses_nothing_and_catches_up(cert, fault, params):
    scenarios.link_fault(cert, fault, **params).assert_claims_hold()


@pytest.mark.parametrize("fault,target", [("link-hold", "crossover"), ("partition", "crossover"),
                                          ("stop", "not-vip-holder")], ids=["held", "cut", "peer-stopped"])
@pytest.mark.claim("mirror", "read_either")
def test_deleted_mail_stays_deleted_when_the_peer_missed_the_delete(cert, fault, target):
    scenarios.deleted_stays_deleted(cert, fault, target).assert_claims_hold()


# not strict: back in 6 of 7 runs (12 messages each), none in one fresh-clone run (docs/benchmarks.md)
@pytest.mark.xfail(strict=False, raises=ExpectedDisagreement, reason=VIP_BACK_UNSYNCED)
@pytest.mark.claim("mirror", "read_either")
def test_deleted_mail_stays_deleted_when_the_vip_went_to_the_peer_and_back_with_the_link_cut(cert):
    scenarios.deleted_stays_deleted(cert, "partition", "crossover", moved_by=("isolate", "vip-holder")) \
        .assert_claims_hold({"read_either": VIP_BACK_UNSYNCED})
