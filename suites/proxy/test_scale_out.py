"""Design IV's scaling: "To add more users you just add as many front end and back end servers
as needed" — done while the cluster serves its users, without restarting anything."""
import pytest

from . import scenarios


@pytest.mark.claim("proxy", "scale_by_adding")
def test_a_back_end_with_new_users_and_a_third_proxy_join_at_runtime(cert):
    scenarios.scale_out(cert).assert_claims_hold()
