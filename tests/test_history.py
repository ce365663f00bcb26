"""The history format: events, pairing into operations, fault windows, files that survive a kill."""
import json
import threading

import pytest

from harness import history as hist
from harness.history import Event, History, load, pair, select


def test_events_are_jsonl_with_index_monotonic_time_and_context(tmp_path):
    h = History(tmp_path / "h.jsonl")
    h.context.update(test="t::one", design="mirror")
    h.invoke("smtp-0", "send", {"token": "mh-a-1", "to": "user1@example.test"})
    h.ok("smtp-0", "send", {"token": "mh-a-1"}, node="mirror-a")
    h.close()
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    first, second = (json.loads(x) for x in lines)
    assert first["i"] == 0 and second["i"] == 1
    assert first["type"] == "invoke" and second["type"] == "ok"
    assert 0 <= first["t"] <= second["t"]
    assert second["node"] == "mirror-a" and "error" not in second  # absent fields are not written
    assert first["test"] == "t::one" and first["design"] == "mirror"


def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError):
        History().add("maybe", "p", "f")


def test_load_round_trips_and_ignores_only_a_truncated_last_line(tmp_path):
    h = History(tmp_path / "h.jsonl")
    h.invoke("p", "f", {"x": 1})
    h.fail("p", "f", error="timeout")
    h.close()
    p = tmp_path / "h.jsonl"
    p.write_text(p.read_text() + '{"i": 2, "t": 1.0, "ty')  # the writer was killed mid-line
    evs = load(p)
    assert [e.type for e in evs] == ["invoke", "fail"] and evs[1].error == "timeout"
    p.write_text('{"i": 0, "t"\n' + p.read_text())  # a broken line that is not the last: an error
    with pytest.raises(ValueError, match=":1:"):
        load(p)


def test_from_dict_names_missing_fields():
    with pytest.raises(ValueError, match="'proc'"):
        Event.from_dict({"i": 1, "t": 0.0, "type": "ok", "f": "send"})


def test_pairing_joins_each_invoke_with_its_processes_completion():
    h = History()
    h.invoke("a", "send", {"token": "1"})
    h.invoke("b", "read", {"user": "u"})
    h.ok("b", "read", {"messages": []}, node="n2")
    h.info("a", "send", error="connection reset after DATA")
    h.invoke("c", "send", {"token": "2"})  # never completed: the run was killed
    ops = pair(h.events)
    assert [(o.proc, o.f, o.type) for o in ops] == [("a", "send", "info"), ("b", "read", "ok"), ("c", "send", "info")]
    assert ops[1].node == "n2" and ops[1].value == {"messages": []}
    assert ops[2].done is None and ops[2].error == "never completed"
    assert ops[0].start < ops[0].end


def test_pairing_rejects_a_process_doing_two_things_at_once_or_a_stray_completion():
    h = History()
    h.invoke("a", "send")
    h.invoke("a", "send")
    with pytest.raises(ValueError, match="while"):
        pair(h.events)
    h2 = History()
    h2.ok("a", "send")
    with pytest.raises(ValueError, match="without an invoke"):
        pair(h2.events)
    h3 = History()
    h3.invoke("a", "send")
    h3.ok("a", "read")
    with pytest.raises(ValueError, match="does not match"):
        pair(h3.events)


def test_select_and_ops_filter_by_test_function_and_time():
    h = History()
    h.context["test"] = "t1"
    h.invoke("a", "send", t=1.0)
    h.ok("a", "send", t=1.1)
    h.context["test"] = "t2"
    h.invoke("b", "read", t=2.0)
    h.ok("b", "read", t=2.1)
    assert [e.proc for e in select(h.events, test="t2")] == ["b", "b"]
    assert [o.f for o in hist.ops(h.events, "send")] == ["send"]
    assert select(h.events, start=1.05, end=2.05) == [h.events[1], h.events[2]]


def test_fault_windows_run_from_applied_to_healed_and_record_failures():
    h = History()
    h.invoke("nemesis", "fault", {"id": "f1", "fault": "kill", "target": "mirror-a"}, t=1.0)
    h.ok("nemesis", "fault", {"id": "f1", "confirmed": "exited"}, t=1.2)
    h.invoke("nemesis", "heal", {"id": "f1"}, t=5.0)
    h.ok("nemesis", "heal", {"id": "f1"}, t=7.5)
    h.invoke("nemesis", "fault", {"id": "f2", "fault": "partition", "target": "crossover"}, t=8.0)
    h.fail("nemesis", "fault", {"id": "f2"}, error="iptables: Permission denied", t=8.1)
    w = {x["id"]: x for x in hist.iter_fault_windows(h.events)}
    assert w["f1"]["start"] == 1.2 and w["f1"]["end"] == 7.5 and w["f1"]["applied"] and w["f1"]["healed"]
    assert not w["f2"]["applied"] and "Permission" in w["f2"]["error"] and w["f2"]["end"] is None


def test_heals_side_by_side_and_an_apply_during_a_heal_are_each_their_own_nemesis_process():
    # the chaos driver heals in threads while it applies the next fault: one "nemesis" process for
    # all of them was an invalid history ("invoked 'heal' while 'heal' was pending", found by
    # `mailha chaos proxy --duration 3m --seed 7`)
    h = History()
    h.invoke("nemesis", "fault", {"id": "f1", "fault": "stop", "target": "ldap"}, t=1.0)
    h.ok("nemesis", "fault", {"id": "f1", "confirmed": "stopped"}, t=1.5)
    h.invoke("nemesis", "fault", {"id": "f2", "fault": "stop", "target": "be2"}, t=2.0)
    h.ok("nemesis", "fault", {"id": "f2", "confirmed": "stopped"}, t=2.5)
    h.invoke(hist.heal_proc("f2"), "heal", {"id": "f2"}, t=5.0)  # waits for ldap
    h.invoke(hist.heal_proc("f1"), "heal", {"id": "f1"}, t=6.0)
    h.invoke("nemesis", "fault", {"id": "f3", "fault": "kill", "target": "proxy1"}, t=6.5)
    h.ok(hist.heal_proc("f1"), "heal", {"id": "f1"}, t=7.0)
    h.ok("nemesis", "fault", {"id": "f3", "confirmed": "exited"}, t=7.1)
    h.ok(hist.heal_proc("f2"), "heal", {"id": "f2"}, t=9.0)
    w = {x["id"]: x for x in hist.iter_fault_windows(h.events)}
    assert (w["f1"]["end"], w["f2"]["end"], w["f3"]["end"]) == (7.0, 9.0, None)
    assert w["f1"]["healed"] and w["f2"]["healed"] and w["f3"]["applied"]
    assert hist.is_nemesis("nemesis-f2") and hist.is_nemesis("nemesis") and not hist.is_nemesis("probe-imap")
    with pytest.raises(ValueError, match="while 'heal'"):  # the old recording, one process for all
        pair([Event(0, 5.0, "invoke", "nemesis", "heal", {"id": "f2"}), Event(1, 6.0, "invoke", "nemesis", "heal", {"id": "f1"})])


def test_concurrent_writers_keep_every_line_whole_and_indices_unique(tmp_path):
    h = History(tmp_path / "h.jsonl")

    def writer(k):
        for n in range(200):
            h.invoke(f"p{k}", "probe", {"n": n})
            h.ok(f"p{k}", "probe", {"n": n})
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.close()
    evs = load(tmp_path / "h.jsonl")
    assert len(evs) == 3200 and sorted(e.i for e in evs) == list(range(3200))
    assert len(pair(evs)) == 1600


def test_listeners_see_every_event():
    seen = []
    h = History()
    h.listen(seen.append)
    h.invoke("a", "f")
    h.ok("a", "f")
    assert [e.type for e in seen] == ["invoke", "ok"]
