"""harness/report/trace.py: one message's timeline from a stored run (no cluster)."""
import json

from harness.cli import main
from harness.report.trace import format_rows, trace

W0 = 1796600000.0  # the run's wall_t0: 2026-12-06T23:33:20Z


def stamp(t: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(W0 + t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def run_dir(tmp_path, wall=True):
    d = tmp_path / "20261206t233320-chaos-mirror-abcd"
    logs = d / "clusters" / "20261206t233320-chaos-mirror-abcd-mirror" / "logs"
    logs.mkdir(parents=True)
    (d / "meta.json").write_text(json.dumps({"run_id": d.name, **({"wall_t0": W0} if wall else {})}))
    ev = [
        {"i": 0, "t": 5.0, "type": "invoke", "proc": "smtp-1", "f": "send", "value": {"to": "user5@example.test", "token": "mh-x-s1n1"}},
        {"i": 1, "t": 5.1, "type": "ok", "proc": "smtp-1", "f": "send", "value": {"reply": "250 2.0.0 Ok: queued as 81D4C13477B", "token": "mh-x-s1n1"}},
        {"i": 2, "t": 6.0, "type": "invoke", "proc": "smtp-1", "f": "send", "value": {"to": "user6@example.test", "token": "mh-x-s1n10"}},
        {"i": 3, "t": 20.0, "type": "ok", "proc": "nemesis", "f": "fault", "value": {"id": "f1", "confirmed": "stopped"}},
        {"i": 4, "t": 90.0, "type": "ok", "proc": "nemesis", "f": "fault", "value": {"id": "f2", "confirmed": "far away"}},
    ]
    (d / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
    (logs / "mirror-a.log").write_text(
        f"{stamp(5.05)} Dec 06 23:33:25 mirror-a postfix/cleanup[10]: 81D4C13477B: message-id=<mh-x-s1n1@mailha.test>\n"
        f"{stamp(5.2)} Dec 06 23:33:25 mirror-a postfix/lmtp[11]: 81D4C13477B: to=<user5@example.test>, status=sent (250 2.0.0 Saved)\n"
        f"{stamp(5.3)} Dec 06 23:33:25 mirror-a postfix/lmtp[11]: 99999999999: to=<user6@example.test>, status=sent\n"
        f"{stamp(30.0)} Dec 06 23:33:50 doveadm(user5@example.test): Info: expunge: box=INBOX, uid=1, msgid=<mh-x-s1n1@mailha.test>, subject=mailha mh-x-s1n1\n"
        f"{stamp(31.0)} Dec 06 23:33:51 imap(user6@example.test): Info: expunge: box=INBOX, uid=1, msgid=<mh-x-s1n10@mailha.test>\n")
    return d


def test_the_timeline_joins_history_logs_and_nearby_faults_in_time_order(tmp_path):
    r = trace(run_dir(tmp_path), "mh-x-s1n1")
    rows = [(round(x.t, 2), x.source, x.text[:40]) for x in r["rows"]]
    assert [x[0] for x in rows] == [5.0, 5.05, 5.1, 5.2, 20.0, 30.0]
    assert rows[1][1] == "mirror-a" and "message-id=<mh-x-s1n1@" in r["rows"][1].text
    assert "status=sent" in r["rows"][3].text                # the queue id's delivery line
    assert rows[4][1] == "history nemesis"                   # the fault within 30 s, for context
    assert "expunge" in r["rows"][5].text and "doveadm" in r["rows"][5].text
    assert r["found"] == {"history": 2, "logs": 3}


def test_a_token_is_matched_whole_not_as_the_start_of_another(tmp_path):
    r = trace(run_dir(tmp_path), "mh-x-s1n1")
    assert not any("s1n10" in x.text for x in r["rows"])
    assert trace(run_dir(tmp_path / "b"), "mh-x-s1n10")["found"] == {"history": 1, "logs": 1}


def test_without_wall_t0_log_lines_keep_wall_time_and_come_last(tmp_path):
    r = trace(run_dir(tmp_path, wall=False), "mh-x-s1n1")
    assert r["wall_clock_logs"] and r["rows"][0].source.startswith("history")
    assert r["rows"][-1].t > 1e9 and "(log times are wall-clock" in format_rows(r)


def test_nothing_found_is_said_and_the_command_exits_1(tmp_path, capsys):
    d = run_dir(tmp_path)
    assert format_rows(trace(d, "mh-none-s9n9")) == "nothing in this run mentions mh-none-s9n9."
    assert main(["trace", str(d), "mh-none-s9n9"]) == 1
    assert main(["trace", str(d), "mh-x-s1n1"]) == 0
    assert "3 log lines mention mh-x-s1n1" in capsys.readouterr().out


def test_bad_input_is_one_sentence(tmp_path, capsys):
    assert main(["trace", str(tmp_path), "mh-x-s1n1"]) == 2
    assert main(["trace", str(run_dir(tmp_path)), "mh"]) == 2
    err = capsys.readouterr().err
    assert "is not a mailha run directory" in err and "too short to name one message" in err
