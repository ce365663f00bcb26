"""Design IV's disclosed disadvantage: "If any of the Back-end servers fail then users on that
server would not be able to access mail" — exactly those users, with a clean temporary error,
their mail kept for them; and the table's two "No" cells measured, not assumed."""
import pytest

from . import scenarios


@pytest.mark.parametrize("fault", ["kill", "pause"])
@pytest.mark.claim("proxy", "backend_failure_disadvantage", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_a_dead_back_end_cuts_off_exactly_its_users_and_keeps_their_mail(cert, fault):
    scenarios.backend_failure(cert, fault).assert_claims_hold()


@pytest.mark.claim("proxy", "data_redundancy", "backend_failure_disadvantage")
def test_a_back_end_whose_disk_is_lost_loses_its_users_mail_and_nobody_elses(cert):
    scenarios.backend_lost(cert).assert_claims_hold()
