"""The ``scale_out`` checker: servers added at runtime serve new users and take load; nobody else
notices; nothing restarts."""
from harness.checkers import run_checker

from tests.histories_proxy import HP, U1, U3

N1, N2 = "user21@example.test", "user22@example.test"
SVC = {"be1": "2026-01-01T00:00:00Z", "proxy1": "2026-01-01T00:00:01Z"}


def grown(*, after=None, share_every: int = 3) -> HP:
    h = HP().started("before", SVC, at=1.0)
    for t in (2.0, 3.0):
        h.user_op("read", U1, at=t, node="proxy1")
    h.step("ldap_add", at=4.0, dur=0.2).step("backend_start", at=4.3, dur=2.0)
    h.step("proxy_start", at=6.4, dur=6.0).step("proxy_in_service", at=12.5, dur=0.8)
    for k in range(12):  # served after proxy3 joined: every third by proxy3
        node = "proxy3" if k % share_every == 0 else ("proxy1" if k % 2 else "proxy2")
        h.user_op("read", U3, at=14.0 + k * 0.2, node=node)
    h.user_op("send", N1, at=14.1).user_op("read", N1, at=14.3, node="proxy3").user_op("pop-read", N2, at=14.5,
                                                                                      node="proxy1")
    h.op("scale-smtp", "send", {"token": "mh-xn-e2e", "to": N1}, at=16.0, result={"token": "mh-xn-e2e", "to": N1})
    h.op("scale-imap", "read", {"user": N1, "mailbox": "INBOX"}, at=16.5,
         result={"user": N1, "mailbox": "INBOX", "messages": [{"uid": 1, "token": "mh-xn-e2e", "flags": []}]})
    h.held("be1", [U1], at=18.0).held("be2", [U3], at=18.1).held("be3", [N1, N2], at=18.2)
    h.direct_read("be3", N1, ["mh-xn-e2e"], at=18.5, proc="scale-direct-be3")
    h.direct_read("be3", N2, [], at=18.7, proc="scale-direct-be3")
    h.started("after", after or SVC, at=19.0)
    return h


def check(h: HP, **options) -> dict:
    options.update(new_users=[N1, N2], new_backend="be3", new_proxy="proxy3", proxies=["proxy1", "proxy2"],
                   band=0.5, new_prefix="mh-xn-")
    return run_checker("scale_out", h.events, **options)


def test_new_servers_serve_new_users_and_take_their_share():
    r = check(grown())
    assert r["valid"] == "pass", r["reasons"]
    n = r["numbers"]
    assert n["proxy_start_s"] == {"value": 6.0, "threshold": None, "unit": "s", "op": "<="}
    assert n["new_user_ops_ok"]["value"] == 5  # send, read, pop-read and the round trip's send and read
    assert n["services_restarted"]["value"] == 0
    assert r["roundtrip"]["ok"] is True


def test_a_restart_a_failed_step_or_an_existing_users_error_fails():
    r = check(grown(after={**SVC, "be1": "2026-01-01T00:05:00Z"}))
    assert r["reasons"] == ["restarted while scaling out: be1"]
    r = check(grown().step("register_again", at=30.0, ok=False))
    assert "step register_again failed" in r["reasons"][0]
    r = check(grown().user_op("read", U1, False, at=8.0, error="connection refused"))
    assert "1 operations of existing users failed while the cluster grew" in r["reasons"][0]
    # a probe that timed out is a stall, judged by the availability check instead
    h = grown()
    h.op("probe-imap-0", "probe", {"proto": "imap", "target": "vip"}, at=8.0, ok=False, error="timed out")
    assert check(h)["valid"] == "pass" and check(h)["numbers"]["existing_user_probes_stalled"]["value"] == 1


def test_new_user_mail_missing_or_known_elsewhere_or_a_lazy_new_proxy_fails():
    h = grown()
    h.send("mh-xn-lost", to=N2, at=15.0)
    assert "1 accepted messages for new users are not on be3" in check(h)["reasons"]
    h = grown().held("be2", [U3, N2], at=18.4)
    assert "new user user22@example.test is known to be2, be3, not only be3" in check(h)["reasons"]
    r = check(grown(share_every=12))
    assert r["valid"] == "fail" and r["reasons"][0] == "proxy3 took 0.14 of the sessions (fair 0.33 ± 50%)"


def test_unread_evidence_is_unknown():
    h = HP().started("before", SVC, at=1.0)
    assert check(h)["valid"] == "unknown"
    h = grown(after={"be1": None, "proxy1": SVC["proxy1"]})
    assert check(h)["reasons"] == ["start time of be1 unknown"]
