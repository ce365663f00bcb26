"""Design II in steady state: every protocol works end to end (SMTP in through the filters, IMAP
and POP3 on the store, webmail through the balancers), no acknowledged mail is lost, the load is
shared over both filters and both webmail servers, and what webmail shows is the store's mailbox."""
import pytest

from . import scenarios


@pytest.mark.claim("functional_split", "smtp", "pop", "imap", "webmail", "load_sharing")
def test_every_protocol_works_and_load_is_shared_over_filters_and_webmail_servers(cert):
    scenarios.basic(cert).assert_claims_hold()


@pytest.mark.claim("functional_split", "webmail_via_imap", "smtp")
def test_webmail_servers_show_the_stores_mailbox_over_imap(cert):
    scenarios.webmail_via_imap(cert).assert_claims_hold()
