"""Design V's two switches: Switch1 carries only the front ends' storage traffic (to the NAS).
Taken away from one front end, that front end cannot serve any mailbox: LVS3's checks (an IMAP
login and SELECT) must take it out so its clients move to the others within the 'stops
responding' bound, nothing lost. Taken away from every front end, it is a storage outage: users
stall or get temporary errors, nothing acknowledged is lost or bounced, and once Switch1 is back
every user is served again within the bound and every front end's mount is alive. Each cut lasts
longer than GlusterFS's network.ping-timeout (10 s): the clients give the storage up and must
reconnect by themselves. (Run when the suite is named: conftest.py.)"""
import pytest

from harness.certification import ExpectedDisagreement
from suites.shared_storage.scenarios import OUTAGE_HOLD_S, storage_outage

from . import scenarios

#: `…-1ad4`, `…-375a`: Switch1 down 15 s for every front end — 162 acknowledged, 0 lost, 0 bounced,
#: every mount alive — but users were served again 12-35 s after it returned (bound 10 s), one not
#: within the watch: design III's NAS_RETURN (the backlog on the same mailboxes' locks).
ALL_CUT = ("after Switch1 was down 15 s for every front end (0 lost, 0 bounced), users were served again only "
           "12-35 s after it returned (bound 10 s)")


# (`…-1ad4`: every PHP worker of both webmail servers waited on fe1 — Roundcube's IMAP timeout is now
# 10 s; `…-375a`: fe1 kept its POP3 clients, LVS3's POP3 check reading only the greeting — it now logs
# in, which opens the mailbox; `…-709d`: passed)
@pytest.mark.claim("high_end", "separate_tiers", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_switch1_is_cut_from_one_front_end_and_its_clients_move_to_the_others(cert):
    scenarios.node_fails(cert, "partition", "storage-fe1", hold=OUTAGE_HOLD_S).assert_claims_hold()


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=ALL_CUT)
@pytest.mark.claim("high_end", "data_redundancy", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_switch1_fails_for_every_front_end_and_service_returns_with_nothing_lost_or_bounced(cert):
    storage_outage(cert, [("partition", "storage")], "switch1-down") \
        .assert_claims_hold({"processing_redundancy": ALL_CUT})
