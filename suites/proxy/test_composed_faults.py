"""Faults composed across tiers, where real clusters break (issue 10 path 15): a back end stopped
and started again while the directory is down comes up without its user list. The design's claim
about its user database holds only if that back end recovers by itself once LDAP returns — every
user served again within the bound, no acknowledged message lost."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "user_database", "smtp")
def test_a_back_end_restarted_while_ldap_is_down_recovers_by_itself_and_loses_no_mail(cert):
    scenarios.backend_restart_during_ldap_outage(cert).assert_claims_hold()
