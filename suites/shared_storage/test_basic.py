"""Design III in steady state: every protocol works through the virtual IP, sessions spread over
the three mail servers, and the cluster is "truly symmetric": mail delivered through one server
is readable through any other, with the same UIDs and flags. (Data redundancy is evidenced only
by the tests that lose a storage disk, test_storage.py.)"""
import pytest

from . import scenarios


@pytest.mark.claim("shared_storage", "smtp", "pop", "imap", "webmail", "load_sharing", "load_shared", "symmetric")
def test_every_protocol_works_and_load_is_shared_over_the_three_servers(cert):
    scenarios.basic(cert).assert_claims_hold()


@pytest.mark.claim("shared_storage", "symmetric", "smtp")
def test_mail_flags_moves_and_expunges_made_on_one_server_show_on_every_other(cert):
    scenarios.cross_server(cert).assert_claims_hold()


@pytest.mark.claim("shared_storage", "scale_100000")
def test_scale_to_100000_users_is_recorded_unknown_with_the_scale_exercised(cert):
    outcome = scenarios.scale_100000(cert)
    assert outcome.measured("scale_100000") == "unknown"


@pytest.mark.claim("shared_storage", "add_servers", "smtp", "symmetric")
def test_a_fourth_server_added_at_runtime_takes_load_and_nobody_notices(cert):
    scenarios.add_server(cert).assert_claims_hold()
