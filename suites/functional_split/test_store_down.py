"""The one mail store goes down: "Mail will continue to be accepted by the filter systems if there
is a problem with your primary mail system" — both filters keep answering 250 while the store is
stopped, killed or frozen, and deliver everything once it returns (0 lost, 0 bounced, the queue
drain time measured). What the store's loss does to IMAP, POP3 and webmail is measured in
test_failover.py."""
import pytest

from . import scenarios


@pytest.mark.parametrize("fault", ["stop", "kill", "pause"])
@pytest.mark.claim("functional_split", "filters_accept_when_store_down", "smtp", "pop", "imap", "webmail")
def test_filters_accept_mail_while_the_store_is_down_and_deliver_it_after(cert, fault):
    scenarios.store_down(cert, fault).assert_claims_hold()
