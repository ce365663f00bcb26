"""Design IV in steady state: SMTP, POP, IMAP and webmail work through the load balancers for the
users of every back end, and sessions spread over the proxies and over the back ends."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "smtp", "pop", "imap", "webmail", "load_sharing")
def test_every_protocol_works_and_load_spreads_over_proxies_and_back_ends(cert):
    scenarios.basic(cert).assert_claims_hold()
