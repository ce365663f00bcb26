"""The ``messages`` checker (set-full for mail) against healthy and broken mirrors."""
from harness.checkers import run_checker
from harness.history import load

from tests.histories import USER, H, as_json, box

A, B = "mirror-a", "mirror-b"
TOKS = [f"mh-r1-{n}" for n in range(10)]


def both(h: H, tokens_a, tokens_b=None, user=USER) -> H:
    h.final_read(A, {user: {"INBOX": box(*tokens_a)}})
    return h.final_read(B, {user: {"INBOX": box(*(tokens_a if tokens_b is None else tokens_b))}})


def messages(h: H, **options) -> dict:
    return run_checker("messages", h.events, **options)


def test_healthy_mirror_passes():
    r = messages(both(H().sends(TOKS, start=1.0), TOKS))
    assert r["valid"] == "pass", r["reasons"]
    assert r["acked"] == 10
    assert r["lost"] == {A: {"count": 0, "tokens": []}, B: {"count": 0, "tokens": []}}
    assert r["lost_everywhere"]["count"] == 0
    assert r["checker"] == "messages"


def test_replication_switched_off_loses_mail_on_the_replica():
    # dsync disabled: everything delivered to A after the replica's last sync never reaches B
    r = messages(both(H().sends(TOKS, start=1.0), TOKS, TOKS[:4]))
    assert r["valid"] == "fail"
    assert r["lost"][B] == {"count": 6, "tokens": sorted(TOKS[4:])}
    assert r["lost"][A]["count"] == 0
    assert r["lost_everywhere"]["count"] == 0  # still on A: not lost everywhere
    assert r["totals"] == {"acked": 10, "lost": 6, "lost_everywhere": 0, "duplicated": 0, "unexpected": 0,
                           "failed_but_delivered": 0}
    # only A required (e.g. a test of the primary alone): passes
    assert messages(both(H().sends(TOKS, start=1.0), TOKS, TOKS[:4]), nodes=[A])["valid"] == "pass"


def test_one_way_replication_loses_what_was_delivered_to_b():
    via_a, via_b = TOKS[:5], TOKS[5:]
    h = H().sends(via_a, start=1.0, node=A).sends(via_b, start=5.0, node=B)
    h.final_read(A, {USER: {"INBOX": box(*via_a)}})  # B -> A never arrives
    h.final_read(B, {USER: {"INBOX": box(*via_a, *via_b)}})
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["lost"][A] == {"count": 5, "tokens": sorted(via_b)}
    assert r["lost"][B]["count"] == 0
    assert any(A in reason for reason in r["reasons"])


def test_postfix_bouncing_while_lmtp_down_loses_acked_mail_everywhere():
    # Postfix answered 250 while LMTP was down, then bounced: acked, on no replica
    down = TOKS[3:7]
    h = both(H().sends(TOKS, start=1.0), [t for t in TOKS if t not in down])
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["lost_everywhere"] == {"count": 4, "tokens": sorted(down)}
    assert r["lost"][A]["count"] == r["lost"][B]["count"] == 4


def test_definite_rejections_are_not_losses():
    # the honest variant: 451 while the delivery agent is down; the sender keeps the mail
    h = H().sends(TOKS[:6], start=1.0)
    for n, t in enumerate(TOKS[6:]):
        h.send(t, False, at=5.0 + n, error="451 4.3.0 temporary failure")
    r = messages(both(h, TOKS[:6]))
    assert r["valid"] == "pass", r["reasons"]
    assert r["sends"] == {"ok": 6, "fail": 4, "info": 0}


def test_failed_but_delivered_is_a_protocol_violation():
    h = H().sends(TOKS[:6], start=1.0).send("mh-r1-x", False, at=5.0, error="421 4.3.2 shutting down")
    h = both(h, TOKS[:6] + ["mh-r1-x"])
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["failed_but_delivered"] == {"count": 1, "tokens": ["mh-r1-x"]}
    r = messages(h, fail_on_failed_but_delivered=False)
    assert r["valid"] == "pass" and r["failed_but_delivered"]["count"] == 1


def test_at_least_once_duplicate_after_sigkill():
    # Postfix redelivered after SIGKILL: same token under two UIDs, on both nodes (P18)
    inbox = box(*TOKS) + [(11, TOKS[3], [])]
    h = H().sends(TOKS, start=1.0)
    h.final_read(A, {USER: {"INBOX": inbox}}).final_read(B, {USER: {"INBOX": inbox}})
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["duplicated"][A] == {"count": 1, "tokens": [TOKS[3]]}
    assert r["lost"][A]["count"] == 0
    tolerant = messages(h, allow_duplicates=True)
    assert tolerant["valid"] == "pass"
    assert tolerant["duplicated"][B]["count"] == 1  # still counted


def test_indeterminate_sends_may_or_may_not_arrive():
    h = H().sends(TOKS[:6], start=1.0)
    h.send("mh-r1-i1", None, at=5.0).send("mh-r1-i2", None, at=5.5)
    h.send("mh-r1-i3", "pending", at=6.0)  # invoke without completion: the run was killed
    r = messages(both(h, TOKS[:6] + ["mh-r1-i1"]))
    assert r["valid"] == "pass", r["reasons"]
    assert r["sends"] == {"ok": 6, "fail": 0, "info": 3}
    assert r["indeterminate"] == {"arrived": 1, "missing": 2}


def test_unexpected_and_misdelivered_messages():
    h = H().sends(TOKS[:6], start=1.0)
    other = "user2@example.test"
    h.final_read(A, {USER: {"INBOX": box(*TOKS[:6], "mh-r1-ghost")}})
    h.final_read(B, {USER: {"INBOX": box(*TOKS[:5])}, other: {"INBOX": box(TOKS[5])}})
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["unexpected"][A] == {"count": 1, "tokens": ["mh-r1-ghost"]}
    assert r["misdelivered"][B] == {"count": 1, "tokens": [TOKS[5]]}
    assert r["lost"][B] == {"count": 1, "tokens": [TOKS[5]]}


def test_messages_without_token_are_counted_not_judged():
    h = H().sends(TOKS[:6], start=1.0)
    r = messages(both(h, TOKS[:6] + [None]))
    assert r["valid"] == "pass"
    assert r["untracked"] == {A: 1, B: 1}


def test_intended_removals_excuse_absence():
    h = H().sends(TOKS, start=1.0)
    h.expunge([TOKS[0]], True, at=5.0)         # gone on purpose
    h.expunge([TOKS[1]], None, at=5.5)         # may be gone
    h.pop_delete([TOKS[2]], True, at=6.0)      # POP3 DELE + QUIT +OK
    h.move([TOKS[3]], "Archive", True, at=6.5)  # moved: must still be with the user
    kept = TOKS[4:]
    h.final_read(A, {USER: {"INBOX": box(TOKS[1], *kept), "Archive": box(TOKS[3])}})
    h.final_read(B, {USER: {"INBOX": box(*kept), "Archive": box(TOKS[3])}})
    r = messages(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["removed"] == 3


def test_failed_removal_and_lost_move_are_not_excused():
    h = H().sends(TOKS, start=1.0)
    h.expunge([TOKS[0]], False, at=5.0)        # EXPUNGE answered NO: must still be there
    h.move([TOKS[1]], "Archive", True, at=5.5)  # moved, then lost on the way
    r = messages(both(h, TOKS[2:]))
    assert r["valid"] == "fail"
    assert r["lost_everywhere"] == {"count": 2, "tokens": sorted(TOKS[:2])}


def test_expunged_message_coming_back_is_caught():
    h = H().sends(TOKS, start=1.0).expunge([TOKS[0]], True, at=5.0)
    h = both(h, TOKS[1:], TOKS)  # B never applied the expunge (or resurrected it on resync)
    r = messages(h)
    assert r["valid"] == "fail"
    assert r["resurrected"][B] == {"count": 1, "tokens": [TOKS[0]]}
    assert messages(h, fail_on_resurrected=False)["valid"] == "pass"


def test_too_few_operations_is_unknown_never_pass():
    r = messages(both(H().sends(TOKS[:3], start=1.0), TOKS[:3]))
    assert r["valid"] == "unknown"
    assert "min_ok" in r["reasons"][0]
    assert messages(both(H().sends(TOKS[:3], start=1.0), TOKS[:3]), min_ok=3)["valid"] == "pass"


def test_few_operations_still_fail_on_evidence():
    r = messages(both(H().sends(TOKS[:3], start=1.0), TOKS[:3], TOKS[:2]))
    assert r["valid"] == "fail"


def test_missing_final_reads_is_unknown():
    h = H().sends(TOKS, start=1.0)
    assert messages(h)["valid"] == "unknown"
    h.final_read(A, {USER: {"INBOX": box(*TOKS)}})
    h.final_read(B, {}, ok=False)
    r = messages(h, nodes=[A, B])
    assert r["valid"] == "unknown"
    assert "mirror-b" in r["reasons"][0]
    assert r["failed_final_reads"] == [{"node": B, "error": "refused"}]


def test_proxy_backends_need_each_message_on_one_node():
    u1, u2 = "user1@example.test", "user2@example.test"
    h = H().sends(TOKS[:5], start=1.0, to=u1).sends(TOKS[5:], start=3.0, to=u2)
    h.final_read("backend-1", {u1: {"INBOX": box(*TOKS[:5])}})
    h.final_read("backend-2", {u2: {"INBOX": box(*TOKS[5:8])}})
    r = messages(h, require="any")
    assert r["valid"] == "fail"
    assert r["lost_everywhere"] == {"count": 2, "tokens": sorted(TOKS[8:])}
    h2 = H().sends(TOKS[:5], start=1.0, to=u1).sends(TOKS[5:], start=3.0, to=u2)
    h2.final_read("backend-1", {u1: {"INBOX": box(*TOKS[:5])}})
    h2.final_read("backend-2", {u2: {"INBOX": box(*TOKS[5:])}})
    assert messages(h2, require="any")["valid"] == "pass"
    assert messages(h2)["valid"] == "fail"  # each backend lacks the other's users


def test_stable_latency_and_stale_reads_after_failover():
    h = H().sends(TOKS[:6], start=1.0)  # acked 1.05 .. 2.05
    h.read(box(*TOKS[:6]), at=3.0, node=A)
    h.read(box(*TOKS[:4]), at=4.0, node=B)  # failover: B lacks the last two for a while
    h.read(box(*TOKS[:6]), at=6.0, node=B)
    r = messages(both(h, TOKS[:6]))
    lat = r["stable_latency"]
    assert lat["stale_reads"] == 2
    assert lat["count"] == 6
    # TOKS[5] sent at 2.0 is stable only from the read at 6.0 (4.0 s); TOKS[4]: 4.2 s;
    # TOKS[3] sent at 1.6 is in every read from 3.0 on (1.4 s)
    assert (lat["min"], lat["max"]) == (1.4, 4.2)
    assert r["valid"] == "pass"


def test_lost_tokens_are_capped_and_sorted():
    toks = [f"mh-r2-{n:03d}" for n in range(50)]
    r = messages(both(H().sends(toks, start=0.0, every=0.01), toks[:5], toks[:5]))
    assert r["lost"][A]["count"] == 45
    assert r["lost"][A]["tokens"] == toks[5:25]


def test_deterministic_and_reproducible_from_the_stored_history(tmp_path):
    h = H().sends(TOKS, start=1.0).send("x", None, at=3.0).read(box(*TOKS[:3]), at=2.0)
    h = both(h, TOKS + ["x"], TOKS[:7] + [TOKS[2]])
    first = as_json(messages(h))
    assert first == as_json(messages(h))
    path = tmp_path / "history.jsonl"
    path.write_text(h.jsonl())
    assert as_json(run_checker("messages", load(path))) == first


def test_window_keeps_operations_invoked_inside_it():
    h = H().sends(TOKS, start=1.0, every=1.0)  # 1.0 .. 10.0
    h.final_read(A, {USER: {"INBOX": box(*TOKS[:5])}}, at=10.5)
    r = run_checker("messages", h.events, window=(0.0, 5.5))
    assert r["valid"] == "unknown"  # the final read is outside the window
    assert r["acked"] == 5
    r = run_checker("messages", h.events, window=(0.0, 11.0))
    assert r["valid"] == "fail" and r["lost"][A]["count"] == 5
    # a window starting mid-operation drops the orphan completion instead of crashing
    r = run_checker("messages", h.events, window=(1.02, 11.0))
    assert r["acked"] == 9


def test_test_filter_keeps_one_test():
    h1 = both(H(test="t::a").sends(TOKS, start=1.0), TOKS)
    h2 = H(test="t::b").sends(["other"], start=1.0)
    events = sorted(h1.events + h2.events, key=lambda e: e.t)
    assert run_checker("messages", events, test="t::a")["sends"]["ok"] == 10


def test_wiped_node_exposes_only_mail_younger_than_the_recovery_point():
    # A is destroyed at t=3.0; B (rebuilt from A before) lacks the last three sends
    h = H().sends(TOKS, start=1.0)  # acked at 1.05, 1.25, ..., 2.85
    h = both(h, TOKS[:7], TOKS[:7])
    r = messages(h, loss_at=3.0, rpo_s=0.6)  # acked at 2.45, 2.65, 2.85: inside the window
    assert r["valid"] == "pass"
    assert r["exposed"]["count"] == 3 and r["exposed"]["tokens"] == sorted(TOKS[7:])
    # with a recovery point of zero the same loss fails
    assert messages(h, loss_at=3.0, rpo_s=0.0)["valid"] == "fail"
    # mail older than the window that is lost fails
    h2 = both(H().sends(TOKS, start=1.0), TOKS[:3], TOKS[:3])
    assert messages(h2, loss_at=3.0, rpo_s=0.5)["valid"] == "fail"


def test_prefix_ignores_mail_left_by_earlier_tests():
    h = H().sends(["mh-t2-1", "mh-t2-2"], start=1.0)
    h.final_read(A, {USER: {"INBOX": [(1, "mh-t1-9", []), (2, "mh-t2-1", []), (3, "mh-t2-2", [])]}})
    h.final_read(B, {USER: {"INBOX": [(1, "mh-t1-9", []), (2, "mh-t2-1", []), (3, "mh-t2-2", [])]}})
    assert messages(h, min_ok=1)["valid"] == "fail"  # mh-t1-9 is unexpected without a prefix
    r = messages(h, min_ok=1, prefix="mh-t2-")
    assert r["valid"] == "pass" and r["ignored_other_tokens"] == 2
