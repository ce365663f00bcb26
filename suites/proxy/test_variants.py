"""Proof that the proxy suite can fail: each deliberately broken cluster (compose/overrides/proxy/)
runs the scenario of the claim it breaks, and that claim must come out below the seed's claim.
These clusters never count for the claims matrix (their results go to variants.json)."""
import pytest

from . import scenarios

VARIANTS = [
    # override file, the scenario that exposes it, the claims it must break
    # on networks whose DNS answers NXDOMAIN for a stopped container the dead back end's mail
    # bounces; on these internal networks Docker's DNS times out instead (deferred, 10 s per
    # attempt), so the routing check flags the names themselves
    ("route-by-container-name", scenarios.routing, ("ldap_routing",)),
    ("user-on-wrong-backend", scenarios.routing, ("one_backend_per_user", "ldap_routing")),
    ("backends-on-client-network", scenarios.segmentation, ("three_layer_security",)),
    # smtpd keeps its cached lookup failures after LDAP returns: users who failed during the
    # outage are refused on for seconds to minutes (issue 10 path 14)
    ("no-ldap-watch", scenarios.ldap_outage, ("user_database",)),
]


@pytest.mark.slow
@pytest.mark.design("proxy")
@pytest.mark.parametrize("name,scenario,breaks", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_broken_proxy_cluster_is_caught_with_the_claim_it_breaks(variant, name, scenario, breaks):
    outcome = scenario(variant(name))
    outcome.assert_caught(*breaks)
