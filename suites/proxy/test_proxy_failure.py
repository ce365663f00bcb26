"""Design IV's front ends: "Incoming POP/SMTP connections arrive at one of several front end
'proxy' servers". A dead proxy must cost nobody their mail: the load balancers move its clients
to the other proxy within the failover bound."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "front_ends", "smtp", "pop", "imap", "webmail")
def test_a_dead_proxy_moves_its_clients_to_the_other_within_the_bound(cert):
    scenarios.proxy_failure(cert).assert_claims_hold()
