"""Design III in steady state: every protocol works through the virtual IP, sessions spread over
the three mail servers, and the cluster is "truly symmetric": mail delivered through one server
is readable through any other, with the same UIDs and flags. (Data redundancy is evidenced only
by the tests that lose a storage disk, test_storage.py.)"""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios


#: measured (docs/shared-storage.md): run right after another design's cluster was taken down, 4 of 6
#: (`…-5c88`) and 3 of 5 (`…-709d`) webmail sessions broke at the 2-s bound in the window's first
#: 4-10 s, at a user's first login on a webmail node; alone on a quiet host it passed (`…-23b8`).
#: Design V's STEADY_MARGINAL. A user's first Roundcube login writes the user's rows into the server's
#: SQLite on this host's noisy disk (suspected; the next thing to measure: each user logged in once at
#: provisioning, as every INBOX is opened once). Not strict, and only the webmail claim is excused:
#: any other claim below its seed value fails the test.
FIRST_WEBMAIL_LOGINS = ("on this 2-core host the steady window's first seconds are marginal for webmail: 3-4 of 5-6 "
                        "sessions broke at the 2-s bound at a user's first login on a webmail node")


@pytest.mark.xfail(strict=False, raises=ExpectedDisagreement, reason=FIRST_WEBMAIL_LOGINS)
@pytest.mark.claim("shared_storage", "smtp", "pop", "imap", "webmail", "load_sharing", "load_shared", "symmetric")
def test_every_protocol_works_and_load_is_shared_over_the_three_servers(cert):
    scenarios.basic(cert).assert_claims_hold({"webmail": FIRST_WEBMAIL_LOGINS})


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
