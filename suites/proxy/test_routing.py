"""Design IV's routing and layers: "these servers then lookup the user in the networked user
database (via LDAP) ... the proxy then redirects the user to the appropriate back end system",
"each user is only on one of the back end systems", and "3 layer security"."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "ldap_routing", "one_backend_per_user")
def test_every_user_lives_on_one_back_end_and_every_proxy_routes_to_it(cert):
    scenarios.routing(cert).assert_claims_hold()


@pytest.mark.claim("proxy", "three_layer_security")
def test_a_client_reaches_the_front_ends_but_no_back_end_or_ldap_port(cert):
    scenarios.segmentation(cert).assert_claims_hold()
