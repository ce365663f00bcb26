"""Design I under server failures: "failover to the second server with no interruption of
service", "no single point of failure", "most system users are unaware". Each server is lost in
turn: the active one (kill, stop, pause) and the standby, which holds the second MX address.

Measured on the reference mirror, and a property of the design rather than of its configuration:
a virtual IP moves, open TCP connections do not. Every IMAP session open on the failed server is
cut (and cut again when the VIP returns to its preferred node), and the webmail sessions it held
must log in again. So "no interruption" and "most users unaware" are not kept for the clients of
the active server: the report shows them as disagree, and these tests are strict expected failures
that still require every other claim to hold."""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios

SESSIONS_CUT = ("a VIP failover cannot move open TCP sessions: every IMAP and webmail session on the failed "
                "active server is cut (again at failback), which is an interruption clients see")
ACTIVE = pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=SESSIONS_CUT)
EXPECTED = {"failover_no_interruption": SESSIONS_CUT, "users_unaware": SESSIONS_CUT}


@pytest.mark.parametrize("fault,target", [
    pytest.param("kill", "vip-holder", id="kill-active", marks=ACTIVE),
    pytest.param("stop", "vip-holder", id="stop-active", marks=ACTIVE),
    pytest.param("pause", "vip-holder", id="pause-active", marks=ACTIVE),
    pytest.param("kill", "not-vip-holder", id="kill-standby")])
@pytest.mark.claim("mirror", "failover_no_interruption", "no_spof", "processing_redundancy", "users_unaware",
                   "single_active", "auto_resync", "smtp", "pop", "imap", "webmail")
def test_a_server_fails_and_clients_continue_on_the_other(cert, fault, target):
    scenarios.failover(cert, fault, target).assert_claims_hold(EXPECTED if target == "vip-holder" else None)


@pytest.mark.parametrize("daemon", ["dovecot", "postfix"])
@pytest.mark.claim("mirror", "single_active", "no_spof", "smtp", "pop", "imap", "webmail")
def test_one_daemon_dies_on_the_active_server_and_its_clients_move(cert, daemon):
    """Dovecot dies: IMAP and POP clients move; Postfix dies: SMTP clients move (found by a chaos
    run: the health check tested SMTP too rarely to ever see Postfix dead)."""
    scenarios.daemon_dies(cert, daemon).assert_claims_hold()


@pytest.mark.claim("mirror", "no_spof", "single_active")
def test_active_server_loses_its_lan_cable_and_clients_move(cert):
    scenarios.isolate(cert).assert_claims_hold()


@pytest.mark.claim("mirror", "read_either", "smtp")
def test_mail_comes_in_at_the_second_mx_while_postfix_is_dead_and_the_peer_resyncs(cert):
    scenarios.mail_in_at_the_second_mx(cert).assert_claims_hold()
