"""Design IV's front ends: "Incoming POP/SMTP connections arrive at one of several front end
'proxy' servers". A dead proxy must cost nobody their mail: the load balancers move its clients
to the other proxy within the failover bound."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_a_dead_proxy_moves_its_clients_to_the_other_within_the_bound(cert):
    outcome = scenarios.proxy_failure(cert)
    outcome.assert_claims_hold()
    # the seed claims "No" for the design as a whole (a back end has no stand-in); the front tier
    # of this reference must still cover for a dead proxy, so "No" here is a failure
    r = outcome.results.get("processing_redundancy")
    assert r and r.measured == "Yes", (
        f"proxy.processing_redundancy (front tier): measured {r.measured if r else 'nothing'} — {r.note if r else ''}")
