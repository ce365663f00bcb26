"""Design V's separate tiers, and its "99.9 % uptime" made measurable: one server of every tier
(the load balancer holding each VIP, ECM, SMTP delivery, webmail, front end, directory, storage
node) fails in turn under load from every protocol — killed in one tour, hung in the other. The
other tiers keep working, the tier's service continues on its peer within the 'stops responding'
bound, nothing acknowledged is lost, and what each fault cost the clients is projected over 30 days
at the design's stated failure rates against the 43.2-minute budget of 99.9 %
(harness/checkers/uptime.py defines it)."""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios

#: measured on the reference (docs/high-end.md), and GlusterFS's own behaviour: a storage node that
#: hangs (paused) freezes every front end's I/O for network.ping-timeout (10 s here; 42 s by default,
#: and lower values turn this host's 1–2 s disk stalls into disconnects), and one that comes back after
#: a kill stalled POP3 11–13 s while the front ends reconnected to it (5 kill tours of 5). IMAP/POP
#: through LVS3 stop for longer than the 5-s 'stops responding' bound; every other tier's fault costs
#: the clients under ~2 s, which the per-fault numbers of separate_tiers show.
NAS_STALL = ("a hung GlusterFS storage node stalls every front end's I/O for network.ping-timeout (10 s), and "
             "one returning after a kill stalled POP3 11-13 s: IMAP/POP3 stop longer than the 5-s bound")
EXPECTED = {"separate_tiers": NAS_STALL, "processing_redundancy": NAS_STALL}


#: the kill tour's one disagreement is at the bound: POP3 after nas1's return stalled 11-13 s in five
#: tours, 5.29 s (bound 5 s) in the seventh session's (`…-5c88`) — a measurement that straddles the
#: bound is not a stable disagreement, so this expected failure is not strict: the report shows each
#: run's figure, and a run within the bound passes
NAS_RETURN_AT_BOUND = ("a storage node returning after a kill stalled POP3 5.3-13 s while the front ends "
                       "reconnected to it: at or above the 5-s bound")


@pytest.mark.xfail(strict=False, raises=ExpectedDisagreement, reason=NAS_RETURN_AT_BOUND)
@pytest.mark.claim("high_end", "separate_tiers", "processing_redundancy", "uptime_999", "smtp", "pop", "imap", "webmail")
def test_one_server_of_each_tier_dies_in_turn_and_its_peer_carries_the_service(cert):
    scenarios.tour(cert, scenarios.KILL_TOUR).assert_claims_hold(EXPECTED)


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=NAS_STALL)
@pytest.mark.claim("high_end", "separate_tiers", "processing_redundancy", "uptime_999", "smtp", "pop", "imap", "webmail")
def test_one_server_of_each_tier_hangs_in_turn_and_its_peer_carries_the_service(cert):
    scenarios.tour(cert, scenarios.HANG_TOUR).assert_claims_hold(EXPECTED)
