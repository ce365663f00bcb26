"""Issue 10, "Honest verdicts": each path that turned a claim green (or a check quiet) without the
measurement behind it, fed as a hand-made history (or a fake cluster for the recorders) that the
old code passed and the checkers now judge honestly. One test per path, named after it."""
import threading
import time
from types import SimpleNamespace

import pytest

from harness import docker, observers, probes
from harness.checkers import run_checker
from harness.errors import HostError
from harness.history import History, pair
from harness.thresholds import THRESHOLDS

from tests.histories import USER, H, box

A, B, C = "mirror-a", "mirror-b", "mirror-c"
TOKS = [f"mh-hv-{n:02d}" for n in range(10)]
U = [f"user{n}@example.test" for n in range(1, 26)]


def check(name: str, h: H, **options) -> dict:
    return run_checker(name, h.events, **options)


# -- path 1: data redundancy from one replica -----------------------------------------------------
def test_path1_failed_final_read_of_a_required_replica_is_unknown():
    # B's final read failed: without `nodes` the old checker judged A alone and passed
    h = H().sends(TOKS, start=1.0).final_read(A, {USER: {"INBOX": box(*TOKS)}}).final_read(B, {}, ok=False)
    r = check("messages", h)
    assert r["valid"] == "unknown"
    assert r["nodes"] == [A, B] and r["unread_nodes"] == [B] and r["required_from"] == "final-read ops"
    assert "no successful final read of mirror-b (refused)" in r["reasons"][0]
    # with the topology's nodes: a node never read at all is unknown too
    h2 = H().sends(TOKS, start=1.0).final_read(A, {USER: {"INBOX": box(*TOKS)}})
    r2 = check("messages", h2, nodes=[A, B])
    assert r2["valid"] == "unknown" and "mirror-b (never read)" in r2["reasons"][0]
    # a loss proven on a node that was read still fails
    h3 = H().sends(TOKS, start=1.0).final_read(A, {USER: {"INBOX": box(*TOKS[:8])}}).final_read(B, {}, ok=False)
    assert check("messages", h3)["valid"] == "fail"


def test_path1_failed_final_read_never_proves_a_loss_everywhere_with_require_any():
    # one store per user: be2's read failed, so its users' mail missing from be1 may be on be2
    u1, u2 = U[0], U[1]
    h = H().sends(TOKS[:5], start=1.0, to=u1).sends(TOKS[5:], start=3.0, to=u2)
    h.final_read("be1", {u1: {"INBOX": box(*TOKS[:5])}}).final_read("be2", {}, ok=False)
    r = check("messages", h, require="any")
    assert r["valid"] == "unknown"  # the old checker failed it: "5 messages missing on every node"
    assert "5 messages missing from the nodes read may be there" in r["reasons"][0]
    assert r["totals"]["lost"] == 0
    # every required node read: the loss is proven
    h.final_read("be2", {u2: {"INBOX": box(*TOKS[5:8])}}, at=1001.0)
    r = check("messages", h, require="any", nodes=["be1", "be2"])
    assert r["valid"] == "fail" and r["totals"]["lost"] == 2


def test_path1_owner_rule_needs_each_message_on_its_recipients_back_end():
    u1, u2 = U[0], U[1]
    owners = {u1: "be1", u2: "be2"}
    h = H().sends(TOKS[:5], start=1.0, to=u1).sends(TOKS[5:], start=3.0, to=u2)
    # u2's last two messages sit on be1 (where the proxy never looks for u2): "any" found them
    h.final_read("be1", {u1: {"INBOX": box(*TOKS[:5])}, u2: {"INBOX": box(*TOKS[8:])}})
    h.final_read("be2", {u2: {"INBOX": box(*TOKS[5:8])}})
    assert check("messages", h, require="any")["valid"] == "pass"
    r = check("messages", h, require="owner", owners=owners)
    assert r["valid"] == "fail"
    assert r["reasons"] == ["2 acknowledged messages missing on their owner be2"]
    assert r["users_affected"]["lost"] == [u2] and r["nodes"] == ["be1", "be2"] and r["required_from"] == "owners"
    # a recipient without an owner cannot be judged; the owner's failed read is unknown
    assert check("messages", h, require="owner", owners={u1: "be1"})["valid"] == "unknown"
    h2 = H().sends(TOKS[:5], start=1.0, to=u1).final_read("be1", {}, ok=False).final_read("be2", {})
    assert check("messages", h2, require="owner", owners=owners)["valid"] == "unknown"
    with pytest.raises(ValueError):
        check("messages", h, require="owner")


def test_path1_replicas_with_a_failed_final_read_are_unknown():
    h = H().sends(TOKS, start=1.0)
    h.final_read(A, {USER: {"INBOX": box(*TOKS)}}).final_read(B, {USER: {"INBOX": box(*TOKS)}})
    h.final_read(C, {}, ok=False)
    r = check("replicas", h)
    assert r["valid"] == "unknown" and "mirror-c (refused)" in r["reasons"][0]


# -- path 3: complete sets of users, not capped examples -------------------------------------------
def test_path3_users_affected_are_complete_lists_not_capped_examples():
    h = H()
    for n, u in enumerate(U):  # 25 users, each saw UIDVALIDITY change and got a duplicate
        t = f"mh-hv-u{n:02d}"
        h.send(t, at=1.0 + n * 0.01, to=u).read([(1, t, [])], at=2.0 + n * 0.01, user=u, uidvalidity=1)
    mailboxes = {u: {"INBOX": {"uidvalidity": 2, "messages": [(1, f"mh-hv-u{n:02d}", []), (2, f"mh-hv-u{n:02d}", [])]}}
                 for n, u in enumerate(U)}
    h.final_read(A, mailboxes).final_read(B, mailboxes)
    r = check("replicas", h, allow_duplicates=True)
    assert r["uidvalidity_changed"]["count"] == 25 and len(r["uidvalidity_changed"]["examples"]) == 20
    assert r["users_affected"]["uidvalidity_changed"] == sorted(U)
    assert r["users_affected"]["uid_reused"] == [] and r["users_affected"]["renumbered"] == []
    m = check("messages", h, allow_duplicates=True)
    assert m["users_affected"]["duplicated"] == sorted(U)
    assert m["users_affected"]["lost"] == m["users_affected"]["resurrected"] == []


# -- path 4: the recovery-point window has an upper bound -------------------------------------------
def test_path4_mail_acknowledged_after_the_loss_and_lost_fails():
    h = H().sends(TOKS, start=1.0)  # acked at 1.05 .. 2.85
    h = h.final_read(A, {USER: {"INBOX": box(*TOKS[:5])}}).final_read(B, {USER: {"INBOX": box(*TOKS[:5])}})
    # the disk was lost at 1.9: mail acked 1.45..1.85 is exposed, mail acked after 1.9 must survive
    r = check("messages", h, loss_at=1.9, rpo_s=0.5)
    assert r["valid"] == "fail"
    assert r["exposed"]["tokens"] == [] and r["exposed"]["window"] == [1.4, 1.9]
    r = check("messages", h, loss_at=2.9, rpo_s=2.0)  # everything lost was acked inside the window
    assert r["valid"] == "pass" and r["exposed"]["count"] == 5


def test_path4_recovery_point_window_from_the_loss_fault():
    h = H().sends(TOKS, start=1.0).fault("w1", "wipe", A, at=2.3, dur=0.3)  # invoked 2.3, done 2.6
    h = h.final_read(A, {USER: {"INBOX": box(*TOKS[:6])}}).final_read(B, {USER: {"INBOX": box(*TOKS[:6])}})
    # lost: acked 2.25, 2.45, 2.65, 2.85; the window is [2.3 - 0.1, 2.6]
    r = check("messages", h, loss_fault="w1", rpo_s=0.1)
    assert r["valid"] == "fail" and r["exposed"]["tokens"] == sorted(TOKS[6:8])
    assert r["lost"][A]["tokens"] == sorted(TOKS[8:])
    assert check("messages", h, loss_fault="w9", rpo_s=1.0)["valid"] == "fail"  # no such fault: nothing excused


# -- path 5: split brain, unlimited short overlaps ---------------------------------------------------
def test_path5_forty_short_overlaps_are_split_brain():
    h = H().vip([A], at=0.0)
    for n in range(40):  # B grabs the VIP for 0.45 s forty times; A never lets go: no move at all
        h.vip([A, B], at=1.0 + n).vip([A], at=1.45 + n)
    h.vip([A], at=45.0)
    r = check("split_brain", h)
    assert r["valid"] == "fail" and r["moves"] == 0 and r["handovers"] == 0
    assert r["split_brain_s"] == 18.0
    assert r["reasons"][0].endswith("the holder did not change (mirror-a before and after)")


def test_path5_one_overlap_per_move_within_the_handover_in_all():
    # one move A -> B with two 0.3 s overlaps: each under the bound, together over it and two of them
    h = H().vip([A], at=0.0).vip([A, B], at=5.0).vip([], at=5.3).vip([A, B], at=5.4).vip([B], at=5.7).vip([B], at=9.0)
    r = check("split_brain", h, min_ok=1)
    assert r["valid"] == "fail" and r["moves"] == 1
    whys = [iv["why"] for iv in r["vips"]["10.231.0.200"]["split_intervals"]]
    assert whys == ["the move's overlaps last 0.6 s > handover 0.5 s",
                    "overlap 2 in one move of the VIP (at most one is a handover)"]
    # a failback and a failover, one short overlap each: two handovers
    ok = H().vip([A], at=0.0).vip([A, B], at=5.0).vip([B], at=5.02).vip([A, B], at=8.0).vip([A], at=8.03).vip([A], at=9.0)
    r = check("split_brain", ok, min_ok=1)
    assert r["valid"] == "pass" and (r["moves"], r["handovers"]) == (2, 2)


def test_path5_handover_is_a_threshold_users_can_set():
    t = THRESHOLDS["vip_handover_s"]
    assert (t.default, t.unit) == (0.5, "s") and "move" in t.meaning
    h = H().vip([B], at=0.0).vip([A, B], at=5.0).vip([A], at=5.4).vip([A], at=9.0)
    assert check("split_brain", h, min_ok=1)["handover_s"] == 0.5
    assert check("split_brain", h, min_ok=1)["valid"] == "pass"
    assert check("split_brain", h, min_ok=1, handover_s=0.3)["valid"] == "fail"


# -- path 7: availability limits on by default -------------------------------------------------------
def test_path7_repeated_short_outages_fail_availability_by_default():
    # down 1.5 s of every 2 s: each gap (~1.6 s) is under "no interruption" (2 s), uptime is 25 %
    down = [(n * 2.0 + 0.5, n * 2.0 + 2.0) for n in range(10)]
    h = H().fault("k1", "kill", A, at=0.4, heal_at=19.0).probes("imap", start=0.0, end=20.0, down=down)
    r = check("availability", h)
    assert r["valid"] == "fail"
    assert r["reasons"] == ["imap: availability 0.253731 < 0.9"]
    assert r["protos"]["imap"]["longest_gap"]["value"] < 2.0
    assert r["min_availability"] == THRESHOLDS["failover_min_availability"].default == 0.9


def test_path7_broken_sessions_are_bounded_by_default():
    h = H().probes("imap", start=0.0, end=20.0)
    for n in range(8):  # 8 of 8 open sessions broken
        h.session("imap", False, start=1.0 + n * 0.1, end=10.0)
    r = check("availability", h)
    assert r["valid"] == "fail" and r["max_broken_ratio"] == THRESHOLDS["broken_sessions_ratio"].default
    assert r["reasons"] == ["imap: 8 of 8 sessions broken > 0.5"]


# -- path 10: auto-resync without replicas, and its clock ---------------------------------------------
def _topo(held: dict[str, list[str]]):
    nodes = [SimpleNamespace(name=n) for n in held]
    return SimpleNamespace(data_nodes=lambda: nodes, users_of=lambda n: {u: "pw" for u in held[n]})


def test_path10_nothing_replicated_is_recorded_and_judged_unknown():
    h = History()
    res = observers.wait_converged(_topo({"be1": U[:3], "be2": U[3:6]}), h, after="end", deadline_s=0.1)
    assert res == {"seconds": None, "identical": None, "replicated": False}  # was: identical after 0 s
    [op] = pair(h.snapshot())
    assert op.type == "ok" and op.value["replicated"] is False
    r = run_checker("convergence", h.snapshot())
    assert r["valid"] == "unknown" and r["not_replicated"] == 1
    assert "no replicas to converge" in r["reasons"][0]


def test_path10_resync_clock_starts_at_the_restart(monkeypatch):
    h = History(t0=time.monotonic() - 50.0)  # the heal was invoked at t=10, 40 s ago
    monkeypatch.setattr(observers, "read_replica", lambda topo, node, users=None: {USER: {}})
    res = observers.wait_converged(_topo({A: [USER], B: [USER]}), h, after="r1", deadline_s=5, started_at=10.0)
    assert res["identical"] and res["replicated"] and res["seconds"] >= 40.0
    [op] = pair(h.snapshot())
    assert op.value["started_at"] == 10.0 and op.value["seconds"] >= 40.0
    r = run_checker("convergence", h.snapshot(), bound_s=30)
    assert r["valid"] == "fail" and r["converges"][0]["started_at"] == 10.0


# -- path 13: dead probe, session and observer threads -------------------------------------------------
class FakeTopo:
    node_names = [A, B]
    vips = ["10.231.0.200"]

    def has_endpoint(self, proto):
        return True

    def endpoint(self, proto):
        return ("127.0.0.1", 9)

    def users(self):
        return {USER: "pw"}

    def container(self, node):
        return f"x-{node}"


def _run_for(start, stop, seconds: float = 0.4):
    start()
    time.sleep(seconds)
    stop()


def test_path13_crashed_probe_thread_is_a_failure_and_keeps_probing():
    h = History()
    p = probes.Prober(FakeTopo(), h, protos=("imap",), rate=20.0, timeout=0.1)

    def fn(proto, proc):
        def probe():
            h.invoke(proc, "probe", {"proto": proto, "target": "vip"})
            raise KeyError("imapclient internals")
        return probe

    p._probe_fn = fn
    _run_for(p.start, p.stop)
    ops = pair(h.snapshot())
    assert len(ops) > len(p._threads)  # every thread probed more than once: none died
    assert {o.type for o in ops} == {"fail"}
    assert ops[0].error == "crashed: KeyError: 'imapclient internals'"
    imap = run_checker("availability", h.snapshot(), min_ok=0)["protos"]["imap"]
    assert imap["crashed"] == imap["failed"] == len(ops)


def test_path13_crashed_session_thread_is_a_broken_session(monkeypatch):
    def boom(*a, **k):
        raise KeyError("unexpected")

    monkeypatch.setattr(probes, "Imap", boom)
    h = History()
    s = probes.Sessions(FakeTopo(), h, imap=1, webmail=0, timeout=0.1)
    _run_for(s.start, s.stop)
    ops = pair(h.snapshot())
    assert ops and all(o.type == "fail" and o.error.startswith("crashed: KeyError") for o in ops)
    sessions = run_checker("availability", h.snapshot())["protos"]["imap"]["sessions"]
    assert sessions["broken"] == sessions["crashed"] == len(ops) and sessions["unfinished"] == 0


def test_path13_observer_survives_a_docker_inspect_timeout(monkeypatch):
    def timeout(*a, **kw):
        raise HostError("'docker container inspect mirror-a' did not finish within 5 s.")

    monkeypatch.setattr(docker, "inspect", timeout)
    h = History()
    o = observers.VipObserver(FakeTopo(), h, state_interval=0.05)
    _run_for(o.start, o.stop)
    assert not any(t.is_alive() for t in o._threads)
    ops = pair(h.snapshot())
    assert ops and all(op.type == "fail" for op in ops)  # never a made-up "nobody holds the VIP"
    assert any("vip-states: HostError" in op.error for op in ops) and any("vip-mirror-a" in op.error for op in ops)
    r = run_checker("split_brain", h.snapshot())
    assert r["valid"] == "unknown" and r["failed_observations"] == len(ops)


def test_path13_split_brain_is_unknown_when_the_observer_was_blind_longer_than_a_handover():
    h = H().vips(lambda t: [A], start=0.0, end=5.0).vip([A], at=5.2, ok=False).vips(lambda t: [A], start=12.0, end=14.0)
    r = check("split_brain", h)
    assert r["valid"] == "unknown"
    assert r["vips"]["10.231.0.200"]["blind_intervals"] == [{"start": 5.2, "end": 12.01, "seconds": 6.81}]
    assert "blind on VIP 10.231.0.200 for 6.81 s from t=5.2" in r["reasons"][0]
    # a split brain seen around the blind stretch still fails
    h.vip([A, B], at=14.5).vip([A], at=16.0).vip([A], at=17.0)
    assert check("split_brain", h)["valid"] == "fail"
    # a failure followed at once by a good observation is tolerated, and counted
    short = H().vips(lambda t: [A], start=0.0, end=2.0).vip([A], at=2.02, ok=False).vips(lambda t: [A], start=2.1, end=4.0)
    r = check("split_brain", short)
    assert r["valid"] == "pass" and r["failed_observations"] == 1 and r["blind_s"] == 0.09


# -- other vacuous passes found on the way ---------------------------------------------------------------
def test_vacuous_availability_from_sessions_alone_is_unknown():
    h = H()
    for n in range(8):
        h.session("imap", True, start=1.0 + n, end=1.5 + n)
    r = check("availability", h)
    assert r["valid"] == "unknown" and r["reasons"][0] == "no probes for imap: the gap is not measured"


def test_vacuous_availability_when_the_probes_stopped_early_is_unknown():
    # the prober stopped at 5 s; the fault came at 10 s: whatever clients saw then is not in the probes
    h = H().probes("imap", start=0.0, end=5.0).fault("k1", "kill", A, at=10.0, heal_at=30.0)
    r = check("availability", h)
    assert r["valid"] == "unknown"
    assert "imap: probes ran from t=0.0 to t=5.02, fault k1 (kill mirror-a) from t=10.1 to t=30.1: not covered" \
        in r["reasons"][0]


def test_vacuous_split_brain_with_an_expected_vip_never_observed_is_unknown():
    h = H().vips(lambda t: [A], start=0.0, end=3.0)
    assert check("split_brain", h)["valid"] == "pass"
    r = check("split_brain", h, vips=["10.231.0.200", "10.231.0.201"])
    assert r["valid"] == "unknown" and "10.231.0.201" in r["reasons"][0]


def test_vacuous_convergence_with_a_heal_never_followed_by_a_converge_op_is_unknown():
    h = H().fault("f1", "kill", B, at=1.0, heal_at=5.0).converge("f1", 1.0, at=5.2)
    assert check("convergence", h)["valid"] == "pass"
    h.fault("f2", "partition", B, at=10.0, heal_at=15.0)  # healed after the last converge op: never measured
    r = check("convergence", h)
    assert r["valid"] == "unknown" and "f2 partition mirror-b healed at t=15.1" in r["reasons"][0]


def test_sessions_broken_while_a_fault_was_being_applied_count_as_broken_by_it():
    # found by the README test command (2026-12-07): a graceful stop took 5 s to be confirmed (the
    # node drains its deliveries) and the 6 sessions it cut ended 1-4 s after the stop began, i.e.
    # before "applied": the checker counted 6 open, 0 broken, and users_unaware passed
    h = H().fault("f1", "stop", A, at=10.0, dur=5.0, heal_at=30.0)   # invoked 10, confirmed 15
    for k in range(6):
        h.session("imap", False, start=1.0 + k * 0.1, end=11.0 + k * 0.5)  # cut at 11-13.5
    h.session("imap", True, start=1.0, end=40.0)                           # a session on the other node
    r = run_checker("sessions", h.events)
    assert (r["open"], r["broken"]) == (7, 6), r
    assert r["valid"] == "fail"  # 6 of 7 > 0.5
    # a session that had already ended before the fault was invoked is not the fault's
    h2 = H().fault("f1", "stop", A, at=10.0, dur=5.0, heal_at=30.0).session("imap", False, start=1.0, end=9.0)
    h2.session("imap", True, start=1.0, end=40.0)
    r2 = run_checker("sessions", h2.events)
    assert (r2["open"], r2["broken"]) == (1, 0)
