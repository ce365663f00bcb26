"""Design IV's user database: "the only piece in the system that has to handle all the users is
the user database". What an LDAP outage does to logins and deliveries, and how fast every proxy
serves everybody again once LDAP is back."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "user_database")
def test_ldap_outage_gives_temporary_errors_and_every_proxy_recovers_within_the_bound(cert):
    scenarios.ldap_outage(cert).assert_claims_hold()
