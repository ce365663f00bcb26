"""The ``replicas`` checker: convergence and IMAP invariants across a mirror's nodes."""
from harness.checkers import run_checker

from tests.histories import USER, H, as_json, box

A, B = "mirror-a", "mirror-b"
T = [f"mh-r1-{n}" for n in range(8)]


def finals(h: H, a, b, uv_a=1, uv_b=1, mailbox="INBOX") -> H:
    h.final_read(A, {USER: {mailbox: {"uidvalidity": uv_a, "messages": a}}})
    return h.final_read(B, {USER: {mailbox: {"uidvalidity": uv_b, "messages": b}}})


def replicas(h: H, **options) -> dict:
    return run_checker("replicas", h.events, **options)


def test_identical_replicas_pass():
    inbox = box(*T, flags={T[0]: ["\\Seen"]})
    r = replicas(finals(H(), inbox, inbox))
    assert r["valid"] == "pass", r["reasons"]
    assert r["identical"] is True
    assert (r["nodes"], r["mailboxes"], r["messages"]) == ([A, B], 1, 8)


def test_symmetric_partition_equal_count_divergence():
    # 3 mails to each side during a partition; after the heal an incremental dsync skips the
    # mailbox (same UIDNEXT, count, HIGHESTMODSEQ): same UIDs 6-8, different messages (P7)
    common = T[:5]
    a = box(*common, "mh-r1-a1", "mh-r1-a2", "mh-r1-a3")
    b = box(*common, "mh-r1-b1", "mh-r1-b2", "mh-r1-b3")
    r = replicas(finals(H(), a, b))
    assert len(a) == len(b)  # a checker comparing counts would pass this
    assert r["valid"] == "fail"
    assert r["identical"] is False
    [div] = r["equal_count_divergence"]
    assert (div["messages"], div["same_uids"], div["differing_uids"]) == (8, True, 3)
    assert div["examples"][0] == {"uid": 6, "tokens": {A: "mh-r1-a1", B: "mh-r1-b1"}}
    assert r["uid_conflicts"]["count"] == 3
    assert "3 UIDs hold different messages on different nodes" in r["reasons"]
    assert r["totals"] == {"messages": 11, "missing": 6, "uid_conflicts": 3, "flag_mismatch": 0, "uid_reused": 0,
                           "renumbered": 0}
    assert r["missing"][A]["tokens"] == ["mh-r1-b1", "mh-r1-b2", "mh-r1-b3"]


def test_replication_switched_off_leaves_the_replica_behind():
    r = replicas(finals(H(), box(*T), box(*T[:5])))
    assert r["valid"] == "fail"
    assert r["missing"][B] == {"count": 3, "tokens": sorted(T[5:])}
    assert r["equal_count_divergence"] == []
    assert r["uid_conflicts"]["count"] == 0


def test_one_way_replication_of_flags():
    a = box(*T, flags={T[2]: ["\\Seen"], T[3]: ["\\Flagged", "\\Seen"]})
    r = replicas(finals(H(), a, box(*T)))
    assert r["valid"] == "fail"
    assert r["flag_mismatch"]["count"] == 2
    assert r["flag_mismatch"]["examples"][1] == {"user": USER, "mailbox": "INBOX", "token": T[3],
                                                 "flags": {A: ["\\Flagged", "\\Seen"], B: []}}


def test_recent_flag_is_per_session_and_ignored():
    r = replicas(finals(H(), box(*T, flags={T[0]: ["\\Recent"]}), box(*T)))
    assert r["valid"] == "pass", r["reasons"]


def test_mailbox_guid_swap_changes_uidvalidity():
    # Maildir GUID swap loop (P5): every sync swaps GUID and UIDVALIDITY between the nodes
    h = H().read(box(*T[:3]), at=1.0, uidvalidity=1700000001, node=A)
    r = replicas(finals(h, box(*T), box(*T), uv_a=1700000002, uv_b=1700000001))
    assert r["valid"] == "fail"
    assert r["uidvalidity_mismatch"] == [{"user": USER, "mailbox": "INBOX",
                                          "uidvalidity": {A: 1700000002, B: 1700000001}}]
    assert r["uidvalidity_changed"]["examples"] == [{"user": USER, "mailbox": "INBOX", "was": 1700000001,
                                                     "now": 1700000002, "nodes": [A]}]


def test_uidvalidity_changed_during_the_run_though_replicas_agree_now():
    # P6 fix: the folder was renamed and re-synced; clients must re-download it
    h = H().read(box(*T[:4]), at=1.0, uidvalidity=5, mailbox="Projects", node=A)
    r = replicas(finals(h, box(*T), box(*T), uv_a=9, uv_b=9, mailbox="Projects"))
    assert r["identical"] is True
    assert r["valid"] == "fail"
    assert r["uidvalidity_changed"]["count"] == 1
    assert r["renumbered"]["count"] == 0  # new UIDVALIDITY: new UIDs are legal


def test_renumbering_after_full_sync_is_counted():
    # after a full sync the conflicting mails got new UIDs on both sides, old UIDs retired
    h = H().read(box(*T[:5], "mh-r1-a1"), at=1.0, node=A)
    final = box(*T[:5]) + [(9, "mh-r1-a1", []), (10, "mh-r1-b1", [])]
    h = finals(h, final, final)
    r = replicas(h)
    assert r["valid"] == "pass", r["reasons"]
    assert r["renumbered"] == {"count": 1, "examples": [
        {"user": USER, "mailbox": "INBOX", "token": "mh-r1-a1", "was_uid": 6, "now_uids": [9], "node": A}]}
    assert replicas(h, fail_on_renumbering=True)["valid"] == "fail"


def test_uid_reused_across_failover():
    # during the partition a client on A saw UID 6 = a1; after failover B served UID 6 = b1
    h = H().read(box(*T[:5], "mh-r1-a1"), at=1.0, node=A).read(box(*T[:5], "mh-r1-b1"), at=2.0, node=B)
    final = box(*T[:5]) + [(7, "mh-r1-a1", []), (8, "mh-r1-b1", [])]
    r = replicas(finals(h, final, final))
    assert r["identical"] is True
    assert r["valid"] == "fail"
    assert r["uid_reused"]["examples"] == [{"user": USER, "mailbox": "INBOX", "uidvalidity": 1, "uid": 6,
                                            "tokens": ["mh-r1-a1", "mh-r1-b1"]}]


def test_same_message_under_different_uids():
    a = box(*T)
    b = box(*T[:7]) + [(9, T[7], [])]
    r = replicas(finals(H(), a, b))
    assert r["valid"] == "fail"
    assert r["uid_differs"]["count"] == 1
    assert r["uid_differs"]["examples"][0]["uids"] == {A: [8], B: [9]}


def test_uids_must_be_unique_and_increasing():
    bad = [(1, T[0], []), (3, T[1], []), (2, T[2], []), (3, T[3], []), (4, T[4], []), (5, T[5], [])]
    r = replicas(finals(H(), bad, bad))
    assert r["valid"] == "fail"
    assert [(v["node"], v["uid"], v["problem"]) for v in r["uid_order_violations"]] == [
        (A, 2, "decreasing"), (A, 3, "repeated"), (B, 2, "decreasing"), (B, 3, "repeated")]


def test_at_least_once_duplicate_is_a_token_on_two_uids():
    inbox = box(*T) + [(9, T[3], [])]
    r = replicas(finals(H(), inbox, inbox))
    assert r["valid"] == "fail"
    assert r["token_on_two_uids"]["count"] == 2
    assert r["token_on_two_uids"]["examples"][0] == {"node": A, "user": USER, "mailbox": "INBOX",
                                                      "token": T[3], "uids": [4, 9]}
    assert replicas(finals(H(), inbox, inbox), allow_duplicates=True)["valid"] == "pass"


def test_folder_created_on_one_side_only():
    h = H()
    h.final_read(A, {USER: {"INBOX": box(*T), "Projects-p1": box("mh-r1-p")}})
    h.final_read(B, {USER: {"INBOX": box(*T)}})
    r = replicas(h)
    assert r["valid"] == "fail"
    assert r["missing_mailboxes"] == [{"user": USER, "mailbox": "Projects-p1", "missing_on": [B]}]


def test_unknown_with_one_replica_or_few_messages():
    h = H().final_read(A, {USER: {"INBOX": box(*T)}})
    r = replicas(h)
    assert r["valid"] == "unknown" and "at least 2" in r["reasons"][0]
    r = replicas(finals(H(), box(*T[:2]), box(*T[:2])))
    assert r["valid"] == "unknown"
    r = replicas(finals(H(), box(*T[:2]), box(*T[:2])), min_ok=2)
    assert r["valid"] == "pass"


def test_deterministic():
    h = H().read(box(*T[:5], "mh-r1-a1"), at=1.0, node=A).read(box(*T[:5], "mh-r1-b1"), at=2.0, node=B)
    h = finals(h, box(*T[:5], "mh-r1-a1"), box(*T[:5], "mh-r1-b1"))
    assert as_json(replicas(h)) == as_json(replicas(h))


def test_prefix_judges_only_this_tests_messages():
    # an earlier test left a duplicate (same token on two UIDs) in the shared mailbox
    old = [{"uid": 1, "token": "mh-old-1", "flags": []}, {"uid": 2, "token": "mh-old-1", "flags": []}]
    mine = [{"uid": 3, "token": "mh-new-1", "flags": []}, {"uid": 4, "token": "mh-new-2", "flags": []}]
    h = finals(H(), old + mine, old + mine)
    assert replicas(h, min_ok=1)["valid"] == "fail"
    r = replicas(h, min_ok=1, prefix="mh-new-")
    assert r["valid"] == "pass" and r["messages"] == 2
    # a divergence in this test's own mail is still caught
    h2 = finals(H(), old + mine, old + mine[:1])
    assert replicas(h2, min_ok=1, prefix="mh-new-")["valid"] == "fail"
