"""The ``dependency_outage`` checker: an LDAP outage and how long after it everybody who failed
is served again (issue 10 path 14: retried until success, judged against a bound a user would
call "recovers")."""
from harness.checkers import run_checker

from tests.histories import as_json
from tests.histories_proxy import HP, U1, U2, U3

T451 = "451 4.3.0 <user1@example.test>: Temporary lookup failure"
BOUND = 5.0


def outage(**kw) -> HP:
    """LDAP stopped from 10 to 20 (confirmed 10.1, heal confirmed 20.1); both proxies probed."""
    h = HP().fault("f1", "stop", "ldap", at=10.0, heal_at=20.0)
    for t in (2.0, 4.0, 6.0):  # before: everybody served
        for px in ("proxy1", "proxy2"):
            h.gprobe(px, "imap", U1, at=t).gprobe(px, "smtp", U2, at=t + 0.5)
    return h


def check(h: HP, **options) -> dict:
    options.setdefault("dependency", "ldap")
    options.setdefault("bound_s", BOUND)
    return run_checker("dependency_outage", h.events, **options)


def test_everybody_who_failed_is_retried_until_served_within_the_bound():
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    h.gprobe("proxy2", "imap", U2, False, at=13.0, error="NO [UNAVAILABLE] Temporary authentication failure")
    h.gprobe("proxy1", "imap", U3, True, at=19.0, dur=2.0)  # held until LDAP returned
    h.retry("proxy1", "smtp", U1, at=20.3).retry("proxy2", "imap", U2, at=20.4)
    for t in (21.0, 23.0, 25.0, 27.0):
        h.gprobe("proxy1", "smtp", U1, at=t).gprobe("proxy2", "imap", U2, at=t + 0.2)
    r = check(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["failed_keys"] == 2 and r["not_recovered"] == 0
    assert r["recovery_s"] == {"value": 0.35, "threshold": 5.0, "unit": "s", "op": "<="}  # 20.45 - 20.1
    assert r["protos"]["imap"]["held_until_returned"] == 1
    assert r["protos"]["smtp"]["refused_during"] == 1
    assert r["outage"] == {"start": 10.1, "end": 20.1, "seconds": 10.0}


def test_stale_451_after_ldap_returned_fails_against_the_bound():
    # the defect: Postfix not reloaded, smtpd keeps answering 451 from its cache
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    t = 20.3
    while t < 32.0:  # stale for ~12 s after LDAP answered
        h.retry("proxy1", "smtp", U1, False, at=t, error=T451)
        t += 0.5
    h.retry("proxy1", "smtp", U1, at=32.0)
    h.gprobe("proxy2", "imap", U2, at=33.0)
    r = check(h)
    assert r["valid"] == "fail"
    assert r["recovery_s"]["value"] == 11.95  # 32.05 - 20.1
    assert "SMTP for user1@example.test via proxy1 only after 11.9 s" in r["reasons"][0]


def test_a_success_between_failures_is_not_recovery():
    # one smtpd process fresh, the others stale: served once, refused again later
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    h.retry("proxy1", "smtp", U1, at=20.3)                      # a fresh process
    h.gprobe("proxy1", "smtp", U1, False, at=24.0, error=T451)   # a stale one
    h.retry("proxy1", "smtp", U1, at=24.5)
    h.gprobe("proxy2", "imap", U2, at=30.0)
    r = check(h)
    assert r["recovery_s"]["value"] == 4.45  # the first success after the last failure: 24.55 - 20.1
    assert r["valid"] == "pass"
    assert check(h, bound_s=4.0)["valid"] == "fail"


def test_still_failing_when_the_watch_ended_fails():
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    for t in (20.5, 25.0, 30.0):
        h.retry("proxy1", "smtp", U1, False, at=t, error=T451)
    r = check(h)
    assert r["valid"] == "fail"
    assert r["not_recovered"] == 1 and r["recovery_s"]["value"] is None
    assert "still failing when the watch ended" in r["reasons"][0]


def test_a_failed_user_never_tried_again_is_unknown_not_pass():
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    h.user_op("read", U3, False, at=15.0, error="NO [UNAVAILABLE]")  # the workload, through the endpoint
    h.retry("proxy1", "smtp", U1, at=20.3)
    for t in (22.0, 26.0):
        h.gprobe("proxy2", "imap", U2, at=t)
    r = check(h)
    assert r["valid"] == "unknown"
    assert r["never_retried"] == 1
    assert r["examples"]["never_retried"] == ["IMAP for user11@example.test via endpoint"]
    h.retry("endpoint", "imap", U3, at=20.6)
    assert check(h)["valid"] == "pass"


def test_watch_shorter_than_the_bound_is_unknown():
    h = outage()
    h.gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451)
    h.retry("proxy1", "smtp", U1, at=20.3)  # and nothing after: a failure at +3 s would not be seen
    r = check(h)
    assert r["valid"] == "unknown"
    assert "watched only 0.2 s" in r["reasons"][0]


def test_a_permanent_refusal_during_the_outage_fails():
    h = outage()
    h.gprobe("proxy1", "imap", U1, False, at=12.0, error="NO [AUTHENTICATIONFAILED] Authentication failed.")
    h.retry("proxy1", "imap", U1, at=20.3)
    for t in (22.0, 26.0):
        h.gprobe("proxy2", "imap", U2, at=t)
    r = check(h)
    assert r["valid"] == "fail"
    assert r["permanent_refusals"] == 1
    assert "permanent" in r["reasons"][0]


def test_no_outage_or_no_attempt_during_it_is_unknown():
    assert check(HP().gprobe("proxy1", "imap", U1, at=1.0))["valid"] == "unknown"
    h = HP().fault("f1", "stop", "ldap", at=10.0, heal_at=20.0).gprobe("proxy1", "imap", U1, at=25.0)
    r = check(h)
    assert r["valid"] == "unknown" and "no attempt overlapped the outage" in r["reasons"]
    h = HP().fault("f1", "stop", "ldap", at=10.0, heal_at=20.0, heal_ok=False)
    assert "return was not confirmed" in check(h)["reasons"][0]


def test_endpoint_probes_of_the_probe_user_are_not_user_attempts():
    h = outage().probe("imap", False, at=12.0)  # an endpoint probe without a user
    h.gprobe("proxy2", "imap", U2, at=19.0, dur=1.5)  # held until LDAP returned
    h.gprobe("proxy1", "imap", U1, at=22.0).gprobe("proxy1", "imap", U1, at=26.0)
    r = check(h)
    assert r["valid"] == "pass" and r["failed_keys"] == 0 and r["recovery_s"]["value"] == 0.0


def test_a_back_end_restarted_during_the_outage_must_come_back_by_itself():
    def composed(heal_ok: bool) -> HP:
        h = outage()
        h.fault("f2", "stop", "be2", at=12.0)
        h.restart("be2", at=14.0)
        h.gprobe("proxy1", "imap", U3, False, at=13.0, error="NO [UNAVAILABLE]")
        h.op("nemesis", "heal", {"id": "f2"}, at=21.0, ok=heal_ok, dur=3.0,
             result={"id": "f2", "confirmed": "be2 answers again after 3.0 s"} if heal_ok else None,
             error=None if heal_ok else "be2 exec did not answer before the bring-up deadline")
        h.retry("proxy1", "imap", U3, at=22.0)
        for t in (24.5, 27.0):
            h.gprobe("proxy1", "imap", U3, at=t)
        return h

    r = check(composed(True), restarted=["be2"])
    assert r["valid"] == "pass", r["reasons"]
    assert r["restarted"]["be2"]["ready_after_dependency_s"]["value"] == 3.9  # 24.0 - 20.1
    r = check(composed(False), restarted=["be2"])
    assert r["valid"] == "fail"
    assert "be2, restarted while ldap was away, did not come back by itself" in r["reasons"][0]
    # a restart that did not happen while LDAP was away proves nothing about the composition
    h = outage().gprobe("proxy1", "imap", U3, at=22.0).gprobe("proxy1", "imap", U3, at=27.0)
    r = check(h, restarted=["be2"])
    assert r["valid"] == "unknown" and "not restarted while the dependency was away" in r["reasons"][0]


def test_sessions_through_the_outage_are_counted():
    h = outage()
    h.usession("imap", U1, start=5.0, end=25.0)
    h.usession("http", U2, False, start=5.0, end=12.0)
    h.gprobe("proxy1", "imap", U1, at=22.0).gprobe("proxy1", "imap", U1, at=27.0)
    r = check(h)
    assert r["sessions"] == {"imap": {"open_through": 1, "broken_during": 0},
                             "http": {"open_through": 0, "broken_during": 1}}


def test_result_is_deterministic_json():
    h = outage().gprobe("proxy1", "smtp", U1, False, at=12.0, error=T451).retry("proxy1", "smtp", U1, at=20.3)
    h.gprobe("proxy1", "imap", U1, at=27.0)
    assert as_json(check(h)) == as_json(check(h))


def test_a_webmail_503_is_temporary_not_permanent():
    # the load balancer's "no server available" while Roundcube waited for IMAP behind it
    h = outage().user_op("webmail-list", U1, False, at=12.0, error="WebmailError: no login form (HTTP 503)")
    h.retry("endpoint", "http", U1, at=20.3)
    for t in (22.0, 26.0):
        h.gprobe("proxy2", "imap", U2, at=t)
    r = check(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["permanent_refusals"] == 0 and r["protos"]["http"]["refused_during"] == 1


def test_users_of_a_back_end_restarted_during_the_outage_are_held_to_their_own_bound():
    """With ``owners``, a restarted back end's users (U3, user11, on be2) are judged against
    ``restarted_bound_s``; everybody else stays under ``bound_s`` — a slow user of a running back
    end still fails, and a restarted back end's user too slow even for its bound fails."""
    def composed(u3_ok_at: float, u1_ok_at: float = 20.5) -> HP:
        h = outage()
        h.fault("f2", "stop", "be2", at=12.0)
        h.restart("be2", at=14.0)
        h.gprobe("proxy1", "imap", U3, False, at=13.0, error="NO [UNAVAILABLE]")
        h.gprobe("proxy1", "imap", U1, False, at=15.0, error="NO [UNAVAILABLE]")
        h.op("nemesis", "heal", {"id": "f2"}, at=21.0, dur=3.0,
             result={"id": "f2", "confirmed": "be2 answers again after 3.0 s"})
        t = 20.3
        while t < u3_ok_at - 0.01:  # the restarted back end's user keeps failing
            h.retry("proxy1", "imap", U3, False, at=t, error="NO [UNAVAILABLE]")
            t += 1.0
        h.retry("proxy1", "imap", U3, at=u3_ok_at)
        t = 20.3
        while t < u1_ok_at - 0.01:
            h.retry("proxy1", "imap", U1, False, at=t, error="NO [UNAVAILABLE]")
            t += 1.0
        h.retry("proxy1", "imap", U1, at=u1_ok_at)
        for t in (u3_ok_at + 1, u3_ok_at + 6, u3_ok_at + 11):
            h.gprobe("proxy1", "imap", U3, at=t).gprobe("proxy1", "imap", U1, at=t)
        return h

    owners = {U1: "be1", U2: "be1", U3: "be2"}
    # U3 (be2's) served again after 15.9 s: above bound_s (5), within restarted_bound_s (30)
    r = check(composed(36.0), restarted=["be2"], owners=owners, restarted_bound_s=30.0)
    assert r["valid"] == "pass", r["reasons"]
    assert r["recovery_s"]["value"] == 0.45  # U1 only: 20.55 - 20.1
    assert r["restarted"]["be2"]["users_recovery_s"] == {"value": 15.95, "threshold": 30.0, "unit": "s", "op": "<="}
    assert r["failed_keys"] == 2  # both users count
    # without owners every user is held to bound_s, as before
    r = check(composed(36.0), restarted=["be2"])
    assert r["valid"] == "fail" and "IMAP for user11@example.test via proxy1 only after 15.9 s" in r["reasons"][0]
    # a user of a running back end is still held to bound_s
    r = check(composed(22.0, u1_ok_at=28.0), restarted=["be2"], owners=owners, restarted_bound_s=30.0)
    assert r["valid"] == "fail" and "IMAP for user1@example.test via proxy1 only after 8.0 s" in r["reasons"][0]
    # the restarted back end's user beyond its own bound fails, naming the node
    r = check(composed(55.0), restarted=["be2"], owners=owners, restarted_bound_s=30.0)
    assert r["valid"] == "fail"
    assert any("not every user of be2" in x and "only after 35.0 s" in x for x in r["reasons"]), r["reasons"]
