"""The ``backend_outage`` checker: a dead back end cuts off exactly its users, cleanly, and its
mail waits."""
from harness.checkers import run_checker

from tests.histories_proxy import HP, U1, U2, U3, U4

UNAVAILABLE = "NO [UNAVAILABLE] Account is temporarily unavailable."


def killed(**kw) -> HP:
    """be2 (users U3, U4) killed from 10 to 20; users of be1 served throughout."""
    h = HP().fault("f1", "kill", "be2", at=10.0, heal_at=20.0)
    t = 2.0
    while t < 28.0:
        h.gprobe("be1", "imap", U1, at=t).gprobe("be1", "pop3", U2, at=t + 0.1)
        down = 10.1 <= t + 0.2 <= 20.0
        h.gprobe("be2", "imap", U3, not down, at=t + 0.2, error=UNAVAILABLE if down else None)
        t += 1.0
    h.user_op("send", U4, at=12.0)
    h.maillog("proxy1", at=30.0, sent=3, deferred=2).maillog("proxy2", at=30.2, sent=2, deferred=1)
    return h


def check(h: HP, **options) -> dict:
    options.update(target="be2", victims=[U3, U4, "probe2@example.test"], bound_s=10.0, proxies=["proxy1", "proxy2"])
    return run_checker("backend_outage", h.events, **options)


def test_exactly_its_users_are_refused_cleanly_and_their_mail_waits():
    r = check(killed())
    assert r["valid"] == "pass", r["reasons"]
    n = r["numbers"]
    assert n["victim_refusals"]["value"] == 10  # 10.2 … 19.2
    assert n["other_users_failed_ops"] == {"value": 0, "threshold": 0, "unit": "", "op": "<="}
    assert n["deliveries_deferred"]["value"] == 3 and n["deliveries_bounced"]["value"] == 0
    assert n["mail_for_victims_accepted"]["value"] == 1
    assert r["processing"]["value"] == "No" and r["processing"]["logins"] == 10
    assert r["victim_mail_refused_or_bounced"] is False


def test_a_bystander_failure_a_hang_an_unclean_error_or_a_refused_mail_fails():
    assert "operations of users on other back ends failed" in check(killed().gprobe("be1", "imap", U1, False, at=15.5))["reasons"][0]
    r = check(killed().gprobe("be2", "pop3", U4, False, at=12.5, dur=11.0, error="timed out"))
    assert r["reasons"] == ["1 attempts by users of be2 waited longer than 10.0 s (a hang, not an error)"]
    r = check(killed().gprobe("be2", "pop3", U4, False, at=12.5, error="-ERR [AUTH] Authentication failed."))
    assert r["reasons"][0].startswith("1 refusals were not temporary errors: -ERR [AUTH] Authentication failed. "
                                      "(first: pop3 probe of ")
    assert "s into the outage" in r["reasons"][0] and len(r["examples"]["unclean_attempts"]) == 1
    r = check(killed().user_op("send", U3, False, at=13.0, error="554 5.7.1 relay denied"))
    assert r["valid"] == "fail" and r["victim_mail_refused_or_bounced"] is True


def test_a_bounce_fails_and_an_unread_mail_log_is_unknown():
    h = killed().maillog("proxy1", at=31.0, bounced=1, reasons=("(host 10.242.0.22 said: 550 unknown user)",))
    r = check(h)
    assert r["valid"] == "fail" and r["numbers"]["deliveries_bounced"]["value"] == 1
    h = HP().fault("f1", "kill", "be2", at=10.0, heal_at=20.0)
    t = 2.0
    while t < 28.0:
        h.gprobe("be1", "imap", U1, at=t)
        h.gprobe("be2", "imap", U3, not 10.1 <= t <= 20.0, at=t + 0.2, error=UNAVAILABLE)
        t += 1.0
    h.maillog("proxy1", at=30.0).maillog("proxy2", at=30.2, ok=False)
    r = check(h)
    assert r["valid"] == "unknown" and "the mail log of proxy2 was not read" in r["reasons"][0]
    assert r["numbers"]["deliveries_deferred"]["value"] is None


def test_a_fault_never_seen_fails_and_no_victim_attempt_is_unknown():
    h = HP().fault("f1", "kill", "be2", at=10.0, heal_at=20.0)
    for t in range(2, 28):
        h.gprobe("be1", "imap", U1, at=float(t)).gprobe("be2", "imap", U3, at=t + 0.2)
    h.maillog("proxy1", at=30.0).maillog("proxy2", at=30.2)
    r = check(h)
    assert r["valid"] == "fail" and "never refused while it was down" in r["reasons"][0]
    assert r["processing"]["value"] == "Yes"
    h = HP().fault("f1", "kill", "be2", at=10.0, heal_at=20.0).maillog("proxy1", at=30.0).maillog("proxy2", at=30.2)
    for t in range(2, 28):
        h.gprobe("be1", "imap", U1, at=float(t))
    assert check(h)["valid"] == "unknown"
    assert check(HP())["valid"] == "unknown"
