"""The design-neutral judgements (harness/judgements.py) on hand-made histories: each test would
have passed a claim without its measurement on the code before it (issue 'honest verdicts')."""
from __future__ import annotations

import pytest

from harness.certification import Certifier, ClaimResult, ExpectedDisagreement, Outcome
from harness.history import History
from harness.session import Checks, Evidence, RunContext
from harness.store import RunDir
from harness.thresholds import parse
from harness import judgements
from histories import H, box

MIRROR = {
    "design": "mirror", "vips": ["10.231.0.200"], "domain": "example.test",
    "users": {"prefix": "user", "count": 4, "password": "pw-{user}"},
    "endpoints": {"imap": {"host": "10.231.0.200", "port": 143}},
    "nodes": {"mirror-a": {"service": "mirror-a", "lan": "10.231.0.11", "data": True},
              "mirror-b": {"service": "mirror-b", "lan": "10.231.0.12", "data": True}},
}
PROXY = {
    "design": "proxy", "domain": "example.test", "users": {"prefix": "user", "count": 4, "password": "pw-{user}"},
    "nodes": {"be1": {"service": "be1", "data": True, "users": "1-2"},
              "be2": {"service": "be2", "data": True, "users": "3-4"},
              "px1": {"service": "px1", "tier": "front"}},
}
U = [f"user{i}@example.test" for i in range(1, 5)]
TEST = "tests::t"


class FakeCluster:
    def __init__(self, meta):
        self.meta = meta
        self.design = meta["design"]

    def container(self, service):
        return service


class FakeScenario:
    def __init__(self, topo, window=(0.0, 1000.0), tag="abc"):
        self.topo, self.window, self.tag = topo, window, tag


def make(tmp_path, events, meta=MIRROR):
    from harness.topology import Topology

    rd = RunDir.create("unit", base=tmp_path)
    hist = History()
    hist.events = list(events)
    ctx = RunContext(run=rd, history=hist, thresholds=parse(None), seed=1, progress=None)
    cluster = FakeCluster(meta)
    cert = Certifier(design=meta["design"], cluster=cluster, session=ctx, checks=Checks(ctx, TEST),
                     evidence=Evidence(ctx, TEST), nodeid=TEST)
    return cert, FakeScenario(Topology(cluster))


def mail(tokens, users=U):
    return {u: {"INBOX": box(*[t for t in tokens if t.endswith(u[4])])} for u in users}


def history_with_mail(tokens, *, lost_on=None, **kw):
    h = H(test=TEST)
    for n, t in enumerate(tokens):
        h.send(t, at=1 + n * 0.1, to=f"user{t[-1]}@example.test")
    for node in ("mirror-a", "mirror-b"):
        have = [t for t in tokens if not (lost_on and node in lost_on and t == tokens[0])]
        h.final_read(node, mail(have))
    return h


TOKS = [f"mh-abc-t{n}u{1 + n % 4}" for n in range(8)]


# -- path 8: data redundancy only from a test that loses a data holder --------------------------------
def test_no_loss_without_a_lost_holder_does_not_evidence_data_redundancy(tmp_path):
    cert, sc = make(tmp_path, history_with_mail(TOKS).events)
    judgements.no_loss(cert, sc)
    assert "data_redundancy" not in cert.outcome.results


def test_no_loss_without_a_lost_holder_still_shows_a_violation(tmp_path):
    cert, sc = make(tmp_path, history_with_mail(TOKS, lost_on={"mirror-b"}).events)
    judgements.no_loss(cert, sc)
    assert cert.outcome.results["data_redundancy"].measured == "No"


def test_no_loss_after_a_wipe_of_a_data_node_evidences_data_redundancy(tmp_path):
    h = history_with_mail(TOKS).fault("f1", "wipe", "mirror-b", at=2, heal_at=5)
    cert, sc = make(tmp_path, h.events)
    judgements.no_loss(cert, sc)
    assert cert.outcome.results["data_redundancy"].measured == "Yes"


def test_placement_comes_from_the_topology(tmp_path):
    _c, sc = make(tmp_path, [])
    assert judgements.placement(sc.topo) == {"require": "each", "nodes": ["mirror-a", "mirror-b"]}
    _c, sp = make(tmp_path, [], PROXY)
    assert judgements.placement(sp.topo) == {"require": "owner", "nodes": ["be1", "be2"], "owners": {
        "user1@example.test": ["be1"], "user2@example.test": ["be1"],
        "user3@example.test": ["be2"], "user4@example.test": ["be2"]}}
    assert judgements.e2e_users(sp.topo) == ["user1@example.test", "user3@example.test"]


# -- path 3: most users unaware, judged on complete sets and on what each threshold defines --------------
def _sessions_across_a_fault(h, broken: int, total: int):
    h.fault("f1", "kill", "mirror-a", at=10, heal_at=20)
    for k in range(total):
        h.session("imap", ok=False if k < broken else True, start=5, end=11 if k < broken else 30)
    return h


def test_users_unaware_fails_when_every_open_session_was_broken(tmp_path):
    h = _sessions_across_a_fault(history_with_mail(TOKS), broken=4, total=4)
    cert, sc = make(tmp_path, h.events)
    m = cert.check("messages", sc, require="each", nodes=["mirror-a", "mirror-b"], allow_duplicates=True)
    judgements.users_unaware(cert, sc, m, "kill")
    r = cert.outcome.results["users_unaware"]
    assert r.measured == "No", r.reasons
    assert r.numbers["sessions_broken_ratio_kill"]["value"] == 1.0


def test_users_unaware_is_unknown_without_a_session_open_at_a_fault(tmp_path):
    cert, sc = make(tmp_path, history_with_mail(TOKS).events)
    m = cert.check("messages", sc, require="each", nodes=["mirror-a", "mirror-b"], allow_duplicates=True)
    judgements.users_unaware(cert, sc, m, "kill")
    assert cert.outcome.results["users_unaware"].measured == "unknown"


def test_users_unaware_is_unknown_when_the_mailbox_checkers_give_no_complete_user_list(tmp_path):
    h = _sessions_across_a_fault(history_with_mail(TOKS), broken=0, total=4)
    cert, sc = make(tmp_path, h.events)
    judgements.users_unaware(cert, sc, {"valid": "pass", "totals": {}}, "kill")  # capped examples only
    assert cert.outcome.results["users_unaware"].measured == "unknown"


def test_sessions_checker_counts_sessions_open_at_the_fault():
    from harness.checkers import sessions

    h = _sessions_across_a_fault(H(), broken=3, total=4)
    h.session("imap", ok=False, start=25, end=26)  # broken after the heal and the grace: not this fault's
    r = sessions.check(h.events)
    assert (r["open"], r["broken"]) == (4, 3) and r["valid"] == "fail"
    assert sessions.check(H().session("imap", start=1, end=2).events)["valid"] == "unknown"  # no fault


# -- path 11: a node's loss judged by every VIP it held ---------------------------------------------------
def test_node_loss_fails_when_a_vip_of_the_lost_node_stays_unheld(tmp_path):
    h = H(test=TEST).fault("f1", "kill", "mirror-b", at=10, heal_at=20)
    h.probes("imap", start=0, end=30, node="mirror-a")
    h.vips(lambda t: ["mirror-b"] if t < 10 or t >= 20 else [], start=0, end=30)
    cert, sc = make(tmp_path, h.events)
    a = cert.check("availability", sc)
    assert judgements.node_loss(cert, sc, "mirror-b", "kill", a, 5.0) == "No"
    assert "had no live holder" in cert.outcome.results["processing_redundancy"].note


# -- path 6 and expected disagreements ---------------------------------------------------------------------
def test_a_broken_variant_measured_unknown_is_not_caught():
    o = Outcome("mirror", "replication-off")
    o.results["read_either"] = ClaimResult("read_either", "unknown", {}, ["too few reads"], [])
    with pytest.raises(AssertionError, match="was not caught"):
        o.assert_caught("read_either")
    o.results["read_either"] = ClaimResult("read_either", "No", {}, [], [])
    o.assert_caught("read_either")


def test_expected_disagreement_is_raised_only_when_everything_else_holds():
    o = Outcome("mirror", None)
    o.results["users_unaware"] = ClaimResult("users_unaware", "No", {}, ["all sessions broken"], [])
    o.results["single_active"] = ClaimResult("single_active", "Yes", {}, [], [])
    with pytest.raises(ExpectedDisagreement, match="TCP sessions"):
        o.assert_claims_hold(expected_disagreements={"users_unaware": "TCP sessions cannot move with a VIP"})
    o.results["single_active"] = ClaimResult("single_active", "No", {}, [], [])
    with pytest.raises(AssertionError) as e:
        o.assert_claims_hold(expected_disagreements={"users_unaware": "x"})
    assert not isinstance(e.value, ExpectedDisagreement)
    o.results = {"users_unaware": ClaimResult("users_unaware", "Yes", {}, [], [])}
    o.assert_claims_hold(expected_disagreements={"users_unaware": "x"})  # holds: the strict xfail will XPASS


def test_chaos_rules_name_existing_judgements_and_claims(tmp_path):
    _c, sc = make(tmp_path, [], {**MIRROR, "chaos": {"claims": {"no_loss": "failover_no_interruption"}}})
    assert judgements.chaos_rules(sc.topo) == {"no_loss": "failover_no_interruption"}
    _c, bad = make(tmp_path, [], {**MIRROR, "chaos": {"claims": {"teleport": "smtp"}}})
    with pytest.raises(ValueError, match="unknown judgement 'teleport'"):
        judgements.chaos_rules(bad.topo)
    _c, nope = make(tmp_path, [], {**MIRROR, "chaos": {"claims": {"no_loss": "uptime_999"}}})
    with pytest.raises(KeyError, match="unknown claim"):
        judgements.chaos_rules(nope.topo)


def test_a_loss_without_a_lost_holder_never_confirms_a_disclosed_no(tmp_path):
    """Proxy's sheet says data redundancy "No": mail lost in a scenario that lost no holder is a
    defect (recorded against smtp), not the disclosed limitation."""
    h = H(test=TEST).send("mh-abc-t0u1", at=1, to="user1@example.test").send("mh-abc-t1u3", at=1.1, to="user3@example.test")
    h.final_read("be1", {"user1@example.test": {"INBOX": []}}).final_read("be2", {"user3@example.test": {"INBOX": box("mh-abc-t1u3")}})
    cert, sc = make(tmp_path, h.events, PROXY)
    judgements.no_loss(cert, sc)
    assert "data_redundancy" not in cert.outcome.results
    assert cert.outcome.results["smtp"].measured == "No"


def test_missing_mail_while_a_queue_still_held_mail_is_delayed_not_lost(tmp_path):
    """Found on the proxy: mail deferred during a back-end restart was delivered 81 s later, after
    the mailboxes were read; with the drain failed, missing mail is unknown, never lost (nor passed)."""
    h = history_with_mail(TOKS, lost_on={"mirror-a", "mirror-b"})
    h.op("harness-queue", "queue-drain", {}, at=900, ok=False, dur=60, error="waited 60 s for mail queues to drain")
    cert, sc = make(tmp_path, h.events)
    judgements.no_loss(cert, sc, claim="smtp")
    r = cert.outcome.results["smtp"]
    assert r.measured == "unknown" and "still queued" in r.note


def test_under_chaos_a_uid_shown_for_two_messages_counts_under_users_unaware_not_read_either(tmp_path):
    """The old runner's rule, kept by the shared judgement: the replicas' final state is judged under
    read_either; what clients saw meanwhile (a UID reused) is judged under users_unaware."""
    toks = ["mh-abc-a", "mh-abc-b", "mh-abc-c", "mh-abc-d", "mh-abc-e", "mh-abc-f"]
    h = H(test=TEST).sends(toks, start=1.0)
    h.read([(1, "mh-abc-a", [])], at=3)                       # a client saw UID 1 = a
    final = {"user1@example.test": {"INBOX": [(1, "mh-abc-b", []), (2, "mh-abc-a", [])] + box(*toks[2:], first_uid=3)}}
    h.final_read("mirror-a", final).final_read("mirror-b", final)
    h.converge("end", 0.5, at=900)
    cert, sc = make(tmp_path, h.events)
    judgements.replicas_converged(cert, sc, "read_either", after="chaos", client_view=False)
    assert cert.outcome.results["read_either"].measured == "Yes"
    judgements.replicas_converged(cert, sc, "watchdog", client_view=True)  # a scripted scenario judges it
    assert cert.outcome.results["watchdog"].measured == "No"


# -- deleted mail stays deleted (issue 15) -----------------------------------------------------------
def _deleted_history(back_on=()):
    """user1 gets six messages, deletes the first; the final reads show it back on ``back_on``."""
    toks = ["mh-abc-old1"] + [f"mh-abc-new{n}u1" for n in range(5)]
    h = H(test=TEST)
    for n, t in enumerate(toks):
        h.send(t, at=1.0 + n * 0.1, to=U[0])
    h.expunge([toks[0]], at=3.0, user=U[0])
    for node in ("mirror-a", "mirror-b"):
        have = toks if node in back_on else toks[1:]
        h.final_read(node, {U[0]: {"INBOX": box(*have)}})
    return h


def test_removals_hold_fails_when_a_deleted_message_is_back_on_a_replica(tmp_path):
    cert, sc = make(tmp_path, _deleted_history(back_on=("mirror-b",)).events)
    judgements.removals_hold(cert, sc, judgements.no_loss(cert, sc), "read_either")
    r = cert.outcome.results["read_either"]
    assert r.measured == "No" and "1 deleted messages back on mirror-b" in r.reasons


def test_removals_hold_passes_when_every_deleted_message_stays_deleted(tmp_path):
    cert, sc = make(tmp_path, _deleted_history().events)
    judgements.removals_hold(cert, sc, judgements.no_loss(cert, sc), "read_either")
    assert cert.outcome.results["read_either"].measured == "Yes"


def test_removals_hold_is_unknown_without_a_removal_to_check(tmp_path):
    cert, sc = make(tmp_path, history_with_mail(TOKS).events)
    judgements.removals_hold(cert, sc, judgements.no_loss(cert, sc), "read_either")
    r = cert.outcome.results["read_either"]
    assert r.measured == "unknown" and r.reasons == ["no acknowledged removal to check"]


# -- steady service: a protocol row is judged on what the clients saw, not only on one round trip ---------
def _steady(broken: int, total: int = 4, down=()):
    h = H(test=TEST)
    h.probes("imap", start=0, end=20, down=down)
    for k in range(total):
        h.session("imap", ok=False if k < broken else True, start=1 + k, end=3 + k)
    return h


def test_steady_service_fails_when_most_sessions_break_with_no_fault(tmp_path):
    cert, sc = make(tmp_path, _steady(broken=3).events)
    judgements.steady_service(cert, sc)
    r = cert.outcome.results["imap"]
    assert r.measured == "No" and "3 of 4 sessions broken with no fault" in r.note, r.reasons


def test_steady_service_fails_on_a_gap_with_no_fault_and_passes_a_clean_window(tmp_path):
    cert, sc = make(tmp_path, _steady(broken=0, down=[(5, 8)]).events)
    judgements.steady_service(cert, sc)
    assert cert.outcome.results["imap"].measured == "No"
    cert, sc = make(tmp_path / "clean", _steady(broken=1).events)
    judgements.steady_service(cert, sc)
    assert cert.outcome.results["imap"].measured == "Yes"


def test_steady_service_is_unknown_without_probes_and_refuses_a_window_with_faults(tmp_path):
    h = H(test=TEST)
    h.session("imap", start=1, end=3)
    cert, sc = make(tmp_path, h.events)
    judgements.steady_service(cert, sc)
    assert cert.outcome.results["imap"].measured == "unknown"
    h = _steady(broken=0).fault("f1", "kill", "mirror-b", at=5, heal_at=8)
    cert, sc = make(tmp_path / "fault", h.events)
    with pytest.raises(AssertionError, match="had faults"):
        judgements.steady_service(cert, sc)


def test_a_violation_seen_stands_when_the_same_claim_is_also_unknown(tmp_path):
    cert, _ = make(tmp_path, [])
    cert.claim("read_either", "No", reasons=["refused"])
    cert.claim("read_either", "unknown", reasons=["too few operations"])
    assert cert.outcome.results["read_either"].measured == "No"
    cert.claim("single_active", "Yes")
    cert.claim("single_active", "unknown")
    assert cert.outcome.results["single_active"].measured == "unknown"
