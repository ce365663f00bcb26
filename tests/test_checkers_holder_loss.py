"""The ``holder_loss`` checker: a back end's disk lost; whose mail went with it (complete counts,
not examples)."""
from harness.checkers import run_checker

from tests.histories import box
from tests.histories_proxy import HP, U1, U3


def wiped(n_mine: int = 25, n_other: int = 6, lost_other: int = 0) -> HP:
    h = HP()
    mine = [f"mh-x-m{i}" for i in range(n_mine)]
    other = [f"mh-x-o{i}" for i in range(n_other)]
    for i, tok in enumerate(mine):
        h.send(tok, to=U3, at=1.0 + i * 0.1)
    for i, tok in enumerate(other):
        h.send(tok, to=U1, at=1.05 + i * 0.1)
    h.fault("f1", "wipe", "be2", at=5.0, heal_at=8.0)
    h.final_read("be1", {U1: {"INBOX": box(*other[lost_other:])}})
    h.final_read("be2", {U3: {"INBOX": []}})
    return h


def check(h: HP, **options) -> dict:
    options.update(holder="be2", users=[U3], nodes=["be1", "be2"], prefix="mh-x-")
    return run_checker("holder_loss", h.events, **options)


def test_only_the_holders_users_lose_mail_and_the_count_is_complete():
    r = check(wiped())
    assert r["valid"] == "pass", r["reasons"]
    assert r["numbers"]["lost_with_holder"]["value"] == 25  # not capped at 20 examples
    assert r["numbers"]["acked_before_loss"]["value"] == 25
    assert r["numbers"]["lost_for_other_users"]["value"] == 0
    assert r["data_redundancy"] == "No"


def test_other_users_mail_lost_fails():
    r = check(wiped(lost_other=2))
    assert r["valid"] == "fail" and r["reasons"] == ["2 messages of users on other back ends lost with be2"]


def test_nothing_lost_is_data_redundancy_yes_and_a_missing_read_is_unknown():
    h = wiped(n_mine=0)
    assert check(h)["data_redundancy"] == "Yes"
    h = HP().send("mh-x-o1", to=U1, at=1.0).fault("f1", "wipe", "be2", at=5.0, heal_at=8.0)
    h.final_read("be1", {U1: {"INBOX": box("mh-x-o1")}}).final_read("be2", {}, ok=False)
    r = check(h)
    assert r["valid"] == "unknown" and r["data_redundancy"] == "unknown"
    assert check(HP())["valid"] == "unknown"
