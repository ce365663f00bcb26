"""harness.wait.until: the one waiting helper. No Docker: the clock and the container state are faked."""
import pytest

from harness import wait
from harness.errors import ContainerGone, HostError, MailhaError, WaitTimeout
from harness.wait import Not, until


class Clock:
    """time.monotonic / time.sleep that advance only when slept on."""

    def __init__(self):
        self.t = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(wait.time, "monotonic", c.monotonic)
    monkeypatch.setattr(wait.time, "sleep", c.sleep)
    return c


def test_returns_the_first_truthy_value(clock):
    answers = iter([None, 0, "", "10.0.0.5"])
    assert until(lambda: next(answers), timeout=5, interval=0.1, what="an address") == "10.0.0.5"
    assert clock.sleeps == [0.1, 0.1, 0.1]


def test_exceptions_mean_not_yet_and_the_last_one_is_reported(clock):
    calls = []

    def refuse():
        calls.append(clock.t)
        raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(WaitTimeout) as e:
        until(refuse, timeout=2, interval=0.5, what="mirror-a to answer IMAP")
    msg = str(e.value)
    assert msg == "waited 2.0 s for mirror-a to answer IMAP in vain; last: ConnectionRefusedError: [Errno 111] Connection refused."
    assert msg.count(". ") == 0 and msg.endswith(".")            # one sentence
    assert calls[0] == 1000.0 and calls[-1] == 1002.0             # tried at once and once more at the deadline
    assert isinstance(e.value.last, ConnectionRefusedError) and e.value.seconds == 2.0


def test_a_falsy_reason_is_reported(clock):
    with pytest.raises(WaitTimeout, match=r"for be1 to stop in vain; last: state is running\.$"):
        until(lambda: Not("state is running"), timeout=1, what="be1 to stop")
    with pytest.raises(WaitTimeout, match=r"last: the answer was False\.$"):
        until(lambda: False, timeout=1, what="anything")


def test_errors_outside_the_given_types_propagate_at_once(clock):
    def boom():
        raise KeyError("no such node")
    with pytest.raises(KeyError):
        until(boom, timeout=10, what="x", errors=(OSError,))
    assert clock.sleeps == []


def test_wait_errors_are_project_errors_and_timeouts():
    assert issubclass(WaitTimeout, HostError) and issubclass(WaitTimeout, MailhaError)
    assert issubclass(WaitTimeout, TimeoutError)   # callers catching the builtin keep working
    assert issubclass(ContainerGone, WaitTimeout)


def test_fails_fast_when_the_container_died(clock):
    states = iter(["running", "running", "exited"])
    seen = []

    def state(c):
        seen.append(c)
        return next(states)
    with pytest.raises(ContainerGone) as e:
        until(lambda: None, timeout=120, interval=0.5, what="be2 to answer IMAP", container="mh-be2", state=state)
    assert str(e.value).startswith("gave up waiting for be2 to answer IMAP after ")
    assert "because container mh-be2 is exited" in str(e.value)
    assert clock.t - 1000.0 < 5                                   # not the 120 s of the deadline
    assert seen == ["mh-be2"] * 3 and e.value.state == "exited"


@pytest.mark.parametrize("gone", ["exited", "dead", "removed"])
def test_every_kind_of_gone_ends_the_wait(clock, gone):
    with pytest.raises(ContainerGone, match=f"is {gone}"):
        until(lambda: None, timeout=60, what="x", container="c", state=lambda c: gone)


@pytest.mark.parametrize("alive", ["running", "paused", "restarting", "created", "unknown"])
def test_a_container_that_may_still_answer_does_not_end_the_wait(clock, alive):
    with pytest.raises(WaitTimeout) as e:
        until(lambda: None, timeout=3, what="x", container="c", state=lambda c: alive)
    assert not isinstance(e.value, ContainerGone)


def test_the_state_is_read_only_after_a_failed_try_and_at_most_every_check_every(clock):
    reads = []
    until(lambda: "ok", timeout=5, what="x", container="c", state=lambda c: reads.append(c) or "exited")
    assert reads == []                                            # success first: no docker inspect
    with pytest.raises(WaitTimeout):
        until(lambda: None, timeout=5, interval=0.1, what="x", container="c",
              state=lambda c: reads.append(c) or "running", check_every=1.0)
    assert 5 <= len(reads) <= 7                                   # about once a second, not 50 times


def test_on_retry_sees_each_failure(clock):
    seen = []
    answers = iter([Not("a"), Not("b"), "done"])
    assert until(lambda: next(answers), timeout=5, what="x", on_retry=seen.append) == "done"
    assert [n.reason for n in seen] == ["a", "b"]


def test_the_default_state_reader_maps_docker_answers(monkeypatch):
    import requests

    from tests.fake_engine import FakeApi

    eng = FakeApi("running", gone={"gone"})
    monkeypatch.setattr(wait.docker, "api", lambda: eng)
    assert wait.container_state("running") == "running"
    assert wait.container_state("gone") == "removed"

    class Silent:
        def inspect_container(self, c):
            raise requests.exceptions.ReadTimeout("read timed out")
    monkeypatch.setattr(wait.docker, "api", lambda: Silent())
    assert wait.container_state("x") == "unknown"                 # an engine that did not answer: not gone
