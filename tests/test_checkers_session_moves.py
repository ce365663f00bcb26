"""The ``session_moves`` checker: sessions a dead front end broke come back through another."""
from harness.checkers import run_checker

from tests.histories_proxy import HP, U1, U2


def killed(h: HP | None = None) -> HP:
    h = h or HP()
    return h.fault("f1", "kill", "proxy1", at=10.0, heal_at=20.0)


def check(h: HP, **options) -> dict:
    options.setdefault("target", "proxy1")
    options.setdefault("bound_s", 5.0)
    return run_checker("session_moves", h.events, **options)


def test_broken_sessions_come_back_on_the_other_proxy():
    h = killed()
    h.usession("imap", U1, False, start=2.0, end=10.05, node="proxy1", proc="session-imap-open-0")
    h.usession("imap", U1, True, start=10.4, end=18.0, node="proxy2", proc="session-imap-open-0")
    r = check(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["numbers"]["sessions_broken"]["value"] == 1
    assert r["numbers"]["session_move_s_max"] == {"value": 0.35, "threshold": 5.0, "unit": "s", "op": "<="}
    assert r["moves"] == [{"proc": "session-imap-open-0", "broken_at": 10.05, "delay_s": 0.35, "to": "proxy2"}]


def test_a_session_that_never_comes_back_or_comes_back_late_or_to_the_dead_proxy_fails():
    h = killed().usession("imap", U1, False, start=2.0, end=10.05, node="proxy1", proc="session-imap-open-0")
    assert "1 of 1 broken sessions did not come back" in check(h)["reasons"]
    h.usession("imap", U1, True, start=16.0, end=18.0, node="proxy2", proc="session-imap-open-0")
    assert check(h)["reasons"] == ["a broken session came back only after 6.0 s"]
    h = killed().usession("imap", U2, False, start=2.0, end=10.05, node="proxy1", proc="session-imap-open-1")
    h.usession("imap", U2, True, start=10.5, end=18.0, node="proxy1", proc="session-imap-open-1")
    assert check(h)["reasons"] == ["a session broken by the kill reconnected to proxy1 itself"]


def test_the_dead_proxy_still_serving_after_the_bound_fails():
    h = killed().usession("imap", U1, False, start=2.0, end=10.05, node="proxy1", proc="session-imap-open-0")
    h.usession("imap", U1, True, start=10.4, end=18.0, node="proxy2", proc="session-imap-open-0")
    h.user_op("read", U2, at=16.0, node="proxy1")
    r = check(h)
    assert r["valid"] == "fail" and r["served_after_bound"] == 1


def test_no_broken_session_or_no_fault_is_unknown():
    h = killed().usession("imap", U1, True, start=2.0, end=18.0, node="proxy2")
    assert check(h)["valid"] == "unknown"
    assert check(HP())["valid"] == "unknown"
