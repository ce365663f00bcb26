"""Design I in steady state: every protocol works through the virtual IP, mail sent to either
server lands on both, and only SMTP is shared between the servers. (Data redundancy is evidenced
only by the tests that lose a server's disk, test_resync.py; these may still show it violated.)"""
import pytest

from . import scenarios


@pytest.mark.claim("mirror", "smtp", "pop", "imap", "webmail", "load_sharing")
def test_every_protocol_works_and_only_smtp_load_is_shared(cert):
    scenarios.basic(cert).assert_claims_hold()


@pytest.mark.claim("mirror", "read_either")
def test_mail_flags_moves_and_expunges_on_either_server_show_on_the_other(cert):
    scenarios.read_either(cert).assert_claims_hold()


@pytest.mark.claim("mirror", "smtp")
def test_mail_accepted_while_no_server_can_deliver_is_deferred_not_bounced(cert):
    scenarios.deferred_not_bounced(cert).assert_claims_hold()
