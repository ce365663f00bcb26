"""The ``routing`` checker: each user on exactly one back end, the design's, and every front end
routes there."""
from harness.checkers import run_checker

from tests.histories_proxy import HOSTS, HP, OWNERS, PROXIES, U1, U2, U3, U4

ADDR = {"be1": "10.242.0.21", "be2": "10.242.0.22"}


def routed(*, skip=(), mail=None, directory=None) -> HP:
    """Two messages per user, each on its owner, read the same through both proxies."""
    h = HP()
    t = 1.0
    mail = mail or {u: [f"mh-x-{u[:6]}a", f"mh-x-{u[:6]}b"] for u in OWNERS}
    for u, toks in mail.items():
        for tok in toks:
            h.route_send(tok, u, at=t)
            t += 0.1
    for be in ("be1", "be2"):
        if ("held", be) not in skip:
            h.held(be, [u for u, b in OWNERS.items() if b == be], at=t)
        t += 0.2
    for u, be in OWNERS.items():
        if ("direct", u) not in skip:
            h.direct_read(be, u, mail[u], at=t)
        t += 0.1
        for px in PROXIES:
            h.proxy_read(px, "imap", u, mail[u], at=t).proxy_read(px, "pop3", u, mail[u], at=t + 0.06)
            t += 0.15
    if directory is not False:
        h.directory(directory or {u: [ADDR[b]] for u, b in OWNERS.items()}, at=t)
    return h


def check(h: HP, **options) -> dict:
    options.update(owners=OWNERS, proxies=PROXIES, hosts=HOSTS, prefix="mh-x-")
    return run_checker("routing", h.events, **options)


def test_every_user_on_its_back_end_and_every_proxy_shows_its_mail():
    r = check(routed())
    assert r["valid"] == "pass", r["reasons"]
    assert r["one_backend"]["numbers"]["users_on_exactly_one_backend"] == {"value": 4, "threshold": 4, "unit": "",
                                                                           "op": ">="}
    assert r["routes"]["numbers"]["messages_routed"]["value"] == 8
    assert r["routes"]["numbers"]["reads_through_proxies"]["value"] == 16


def test_a_user_known_to_two_back_ends_fails_one_backend():
    h = routed(skip={("held", "be2")})
    h.held("be2", [U3, U4, U1], at=900.0)
    r = check(h)
    assert r["one_backend"]["valid"] == "fail"
    assert r["one_backend"]["reasons"] == ["user1@example.test can log in on 2 back ends (be1, be2)"]


def test_host_names_and_wrong_mailhosts_fail_routes():
    d = {U1: ["be1"], U2: ["10.242.0.22"], U3: ["10.242.0.22"], U4: ["10.242.0.22"]}
    r = check(routed(directory=d))
    assert r["valid"] == "fail"
    reasons = r["routes"]["reasons"]
    assert reasons[0].startswith("user1@example.test: mailHost be1 is a host name, not an address")
    assert reasons[1] == "user2@example.test: LDAP mailHost 10.242.0.22 names be2, the design places it on be1"
    assert r["one_backend"]["valid"] == "pass"


def test_mail_missing_on_the_owner_or_a_proxy_showing_other_mail_fails():
    h = routed(skip={("direct", U3)})
    h.direct_read("be2", U3, ["mh-x-user11a"], at=900.0)  # one of two accepted messages
    r = check(h)
    assert "user11@example.test: 1 of 2 accepted messages not on be2" in r["routes"]["reasons"]
    assert any("through proxy1 shows 2 messages, be2 holds 1" in x for x in r["routes"]["reasons"])


def test_a_refused_message_or_a_failed_proxy_read_fails():
    h = routed().route_send("mh-x-extra", U1, False, at=950.0, error="451 4.3.0 Temporary lookup failure")
    assert "user1@example.test: 1 messages refused (451 4.3.0 Temporary lookup failure)" in check(h)["routes"]["reasons"]
    h = routed().proxy_read("proxy2", "imap", U4, None, at=950.0)
    assert "user12@example.test: IMAP through proxy2 failed" in check(h)["routes"]["reasons"]


def test_what_was_not_read_is_unknown_never_pass():
    r = check(routed(skip={("held", "be1")}))
    assert r["one_backend"]["valid"] == "unknown" and r["one_backend"]["reasons"] == ["the users of be1 were not read"]
    r = check(routed(directory=False))
    assert r["valid"] == "unknown"
    assert r["routes"]["reasons"] == ["the directory was not read"]
    h = routed(skip={("direct", U2)})
    h.direct_read("be1", U2, [], at=900.0, ok=False)
    r = check(h)
    assert r["routes"]["valid"] == "unknown" and r["routes"]["reasons"] == ["user2@example.test: not read directly on be1"]
    assert run_checker("routing", [], owners={}, proxies=PROXIES)["valid"] == "unknown"
