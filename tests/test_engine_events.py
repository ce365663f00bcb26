"""Engine events into the history: container die/kill/stop/start/pause/unpause/oom/restart of
one run, at the engine's own time, as ``node-event`` operations; a broken stream is a failed
operation and the subscription starts again from the last event. The engine is faked."""
import threading
import time

from harness import history as hist
from harness.engine_events import EngineEvents, node_event
from harness.history import History

RUN = "20261206t210000-mirror-abcd"


def ev(action, svc="mirror-b", t_ns=None, cid="c1", **attrs):
    a = {"name": f"mailha-{RUN}-{svc}-1", "com.docker.compose.service": svc, "io.mailha.run": RUN, **attrs}
    t_ns = t_ns if t_ns is not None else time.time_ns()
    return {"Type": "container", "Action": action, "status": action, "id": cid, "time": t_ns // 10**9,
            "timeNano": t_ns, "Actor": {"ID": cid, "Attributes": a}}


class Stream:
    """An iterator of events, optionally ending with an exception; ``close`` stops it."""

    def __init__(self, events, then=None, block=False):
        self.events, self.then, self.block = list(events), then, block
        self.closed = threading.Event()

    def __iter__(self):
        for e in self.events:
            if self.closed.is_set():
                return
            yield e
        if self.then:
            raise self.then
        while self.block and not self.closed.wait(0.01):
            pass

    def close(self):
        self.closed.set()


class FakeClient:
    def __init__(self, streams):
        self.streams = list(streams)
        self.calls = []

    def events(self, **kw):
        self.calls.append(kw)
        return self.streams.pop(0) if self.streams else Stream([], block=True)


def wait_for(pred, timeout=3.0):
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)


def test_node_event_keeps_only_container_actions_with_their_details():
    assert node_event(ev("die", t_ns=5, exitCode="137")) == {
        "node": "mirror-b", "event": "die", "container": f"mailha-{RUN}-mirror-b-1", "exitCode": 137, "timeNano": 5}
    k = node_event(ev("kill", signal="9", t_ns=1_700_000_000_123_456_789))
    assert k["signal"] == 9 and k["timeNano"] == 1_700_000_000_123_456_789
    assert node_event(ev("exec_start: sh -c true")) is None
    assert node_event(ev("health_status: healthy")) is None
    assert node_event({**ev("die"), "Type": "network"}) is None
    solo = ev("start")
    del solo["Actor"]["Attributes"]["com.docker.compose.service"]
    assert node_event(solo)["node"] == f"mailha-{RUN}-mirror-b-1"  # no compose label: the container name


def test_events_are_recorded_at_the_engines_time_not_when_they_arrive():
    h = History()
    time.sleep(0.05)
    died_wall = time.time() - 0.02          # the engine saw it 20 ms ago
    client = FakeClient([Stream([ev("kill", t_ns=int(died_wall * 1e9), signal="9"),
                                 ev("die", t_ns=int((died_wall + 0.001) * 1e9), exitCode="137"),
                                 ev("exec_die"), ev("start", t_ns=int((died_wall + 0.005) * 1e9))], block=True)])
    e = EngineEvents(h, RUN, client=client).start()
    wait_for(lambda: e.recorded == 3)
    e.stop(settle_s=0)
    ops = hist.ops(h.events, "node-event")
    assert [o.value["event"] for o in ops] == ["kill", "die", "start"]
    assert all(o.type == "ok" and o.proc == "observer-engine" and o.node == "mirror-b" for o in ops)
    assert ops[1].value["exitCode"] == 137 and ops[0].value["signal"] == 9
    # history time = wall - (time.time() - time.monotonic()) - t0: within a few ms of the engine's wall time
    expect = died_wall - (time.time() - time.monotonic()) - h.t0
    assert abs(ops[0].start - expect) < 0.005, (ops[0].start, expect)
    assert ops[0].start < ops[1].start < ops[2].start < h.now()
    # subscribed to this run's containers only
    assert client.calls[0]["filters"] == {"type": "container", "label": f"io.mailha.run={RUN}"}
    assert client.calls[0]["decode"] is True


def test_a_broken_stream_is_a_failed_op_and_the_subscription_resumes_from_the_last_event():
    h = History()
    t1 = time.time_ns() + 50_000_000  # after the subscription began (times later than now are clamped to now)
    first = Stream([ev("die", t_ns=t1, exitCode="0")], then=ConnectionResetError("engine restarted"))
    # the engine replays from "since": the die again (skipped), then the start
    second = Stream([ev("die", t_ns=t1, exitCode="0"), ev("start", t_ns=t1 + 5_000_000)], block=True)
    client = FakeClient([first, second])
    e = EngineEvents(h, RUN, client=client, retry_s=0.01).start()
    wait_for(lambda: e.recorded == 2)
    e.stop(settle_s=0)
    ops = hist.ops(h.events, "node-event")
    failed = [o for o in ops if o.type == "fail"]
    assert len(failed) == 1 and failed[0].value == {"event": "stream"}
    assert "engine event stream broke: ConnectionResetError: engine restarted" in failed[0].error
    assert [o.value["event"] for o in ops if o.type == "ok"] == ["die", "start"]  # no duplicate die
    assert client.calls[1]["since"] == f"{t1 // 10**9}.{t1 % 10**9:09d}"
    assert e.failures == 1


def test_a_stream_the_engine_ends_is_also_a_failure_and_stop_ends_quietly():
    h = History()
    client = FakeClient([Stream([]), Stream([], block=True)])
    e = EngineEvents(h, RUN, client=client, retry_s=0.01).start()
    wait_for(lambda: len(client.calls) == 2)
    e.stop(settle_s=0)
    ops = hist.ops(h.events, "node-event")
    assert [o.type for o in ops] == ["fail"] and "closed the event stream" in ops[0].error
    assert e._thread is None


def test_the_timeline_draws_node_events_at_the_engines_time():
    from harness.report import charts

    h = History(t0=0.0)
    e = EngineEvents(h, RUN, client=FakeClient([]))
    e._offset = 0.0                       # engine wall time == history time in this test
    e.h.now = lambda: 100.0
    e.record(ev("kill", t_ns=12_000_000_000, signal="9"))
    e.record(ev("die", t_ns=12_001_000_000, exitCode="137"))
    e.record(ev("start", t_ns=20_000_000_000))
    e._failed(30.0, ConnectionResetError("gone"))
    assert [round(x.t, 3) for x in h.events if x.type == "ok"] == [12.0, 12.001, 20.0]
    svg, stats = charts.timeline_svg(h.events, [], charts.Scale(0, 40), [], "t")
    assert "node events" in svg and "from the engine" in svg
    assert "mirror-b die at 12.001 s (engine time, exitCode 137)" in svg
    assert "mirror-b kill at 12.000 s (engine time, signal 9)" in svg
    assert "at 30.000 s: engine event stream broke: ConnectionResetError: gone" in svg
    assert stats["node-events"] == {"kill": 1, "die": 1, "start": 1, "stream broken": 1}
