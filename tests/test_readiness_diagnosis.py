"""A cluster that never gets ready says why in one sentence: the service (or virtual IP), the
check that never answered, the last error, and what could be seen (keepalived's state and who
holds the address; a container's state and last log line). Engine calls are faked."""
import pytest

from harness import cluster as cluster_mod
from harness import readiness
from harness.cluster import Cluster
from harness.docker import Result
from harness.errors import ContainerGone, HostError, WaitTimeout

VIPS = ["10.231.0.200", "10.231.0.201"]


def conf(instance: str, vip: str) -> str:
    return (f"vrrp_instance VI_{instance} {{\n  state BACKUP\n  virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n")


def addrs(*ips: str) -> str:
    return "".join(f"2: eth0    inet {ip}/24 brd 10.231.0.255 scope global eth0\\       valid_lft forever\n" for ip in ips)


def test_the_sentence_names_the_service_the_check_and_the_last_error():
    spec = {"service": "mirror-b", "proto": "imap", "host": "10.231.0.12"}
    s = readiness.never_answered(spec, 240.2, "TimeoutError: timed out",
                                 diagnosis=readiness.container_diagnosis("running", 0, "dovecot: Fatal: x"))
    assert s == ("mirror-b never answered IMAP on 10.231.0.12:143 within 240 s (last: TimeoutError: timed out): "
                 "its container is running and its last log line is 'dovecot: Fatal: x'.")
    ex = {"service": "mirror-b", "proto": "exec", "cmd": "test -d /var/vmail/x", "name": "mirror-b-replicated"}
    assert readiness.never_answered(ex, 30, "'test -d /var/vmail/x' exited 1") == (
        "mirror-b never passed its check mirror-b-replicated (`test -d /var/vmail/x`) within 30 s "
        "(last: 'test -d /var/vmail/x' exited 1).")
    assert readiness.container_diagnosis("exited", 137) == "its container is exited (exit code 137) and it logged nothing"


def test_a_vip_is_named_by_its_place_and_keepalived_master_without_the_address_is_the_reason():
    a = readiness.keepalived_facts(addrs("10.231.0.11", "10.231.0.200") + conf("MAIL", "10.231.0.200") + conf("MX2", "10.231.0.201")
                                   + "Keepalived_vrrp: (VI_MAIL) Entering MASTER STATE\n(VI_MX2) Entering BACKUP STATE\n")
    b = readiness.keepalived_facts(addrs("10.231.0.12") + conf("MAIL", "10.231.0.200") + conf("MX2", "10.231.0.201")
                                   + "(VI_MX2) Entering BACKUP STATE\n(VI_MX2) Entering MASTER STATE\n(VI_MAIL) Entering BACKUP STATE\n")
    assert a["instances"]["VI_MX2"] == ["10.231.0.201"] and b["states"]["VI_MX2"] == "MASTER"
    why = readiness.vip_diagnosis("10.231.0.201", {"mirror-a": a, "mirror-b": b})
    assert why == "keepalived on mirror-b reports MASTER without the address"
    s = readiness.never_answered({"proto": "smtp", "host": "10.231.0.201", "expect": "mirror-b"}, 240,
                                 "ConnectionRefusedError: [Errno 111] Connection refused", vips=VIPS, diagnosis=why)
    assert s == ("the second virtual IP 10.231.0.201 never answered SMTP within 240 s (last: ConnectionRefusedError: "
                 "[Errno 111] Connection refused): keepalived on mirror-b reports MASTER without the address.")
    # the first VIP is held by mirror-a: the reason says so instead
    assert readiness.vip_diagnosis("10.231.0.200", {"mirror-a": a, "mirror-b": b}) == (
        "mirror-a holds the address but no answer came from it")


def test_vip_diagnosis_when_nobody_is_master_or_nothing_is_known():
    b = readiness.keepalived_facts(addrs("10.231.0.12") + conf("MX2", "10.231.0.201") + "(VI_MX2) Entering FAULT STATE\n")
    assert readiness.vip_diagnosis("10.231.0.201", {"mirror-a": None, "mirror-b": b}) == (
        "no node holds the address; keepalived reports FAULT on mirror-b")
    quiet = readiness.keepalived_facts(addrs("10.231.0.12") + conf("MX2", "10.231.0.201"))
    assert readiness.vip_diagnosis("10.231.0.201", {"mirror-a": None, "mirror-b": quiet}) == (
        "no node holds the address and keepalived's state is unknown on mirror-b; mirror-a could not be asked")
    # the lb image writes its state to /run/lb/vrrp-state (given as "vrrp-state: …")
    lb = readiness.keepalived_facts(addrs("10.241.0.5") + conf("LB", "10.241.0.200") + "vrrp-state: MASTER-WITHOUT-VIP\n")
    assert readiness.vip_diagnosis("10.241.0.200", {"lb1": lb}) == "keepalived on lb1 reports MASTER without the address"


class FakeEngine:
    """The engine calls Cluster.wait_ready/diagnose make, answered from dicts."""

    def __init__(self, monkeypatch, containers, exec_out, logs, states):
        self.containers, self.exec_out, self.logs, self.states = containers, exec_out, logs, states
        d = cluster_mod.docker
        monkeypatch.setattr(d, "exec_", self.exec_)
        monkeypatch.setattr(d, "logs", self.logs_of)
        monkeypatch.setattr(d, "inspect", self.inspect)

    def exec_(self, name, cmd, **kw):
        out = self.exec_out.get(name)
        return Result(0, out, "") if out is not None else Result(1, "", f"container {name} is not running")

    def logs_of(self, name, **kw):
        return self.logs.get(name, "")

    def inspect(self, name, kind=None, **kw):
        st = self.states.get(name)
        return [{"State": st}] if st else []


@pytest.fixture
def mirror(monkeypatch):
    c = Cluster("mirror")
    names = {"mirror-a": "p-mirror-a-1", "mirror-b": "p-mirror-b-1", "xover-proxy": "p-xover-proxy-1"}
    monkeypatch.setattr(c, "containers", lambda: dict(names))
    return c


def fail_on(monkeypatch, bad: dict, error: BaseException):
    """readiness.wait passes every check except ``bad`` (matched on its items), which raises ``error``."""
    def wait(spec, container, deadline, on_wait=None):
        if all(spec.get(k) == v for k, v in bad.items()):
            raise error
        return "ok"
    monkeypatch.setattr(cluster_mod.readiness, "wait", wait)


def timeout(last, seconds=240.0):
    e = WaitTimeout("waited")
    e.last, e.seconds = last, seconds
    return e


def test_wait_ready_names_the_second_vip_and_the_node_whose_keepalived_is_master_without_it(mirror, monkeypatch):
    fail_on(monkeypatch, {"host": "10.231.0.201"}, timeout(ConnectionRefusedError(111, "Connection refused")))
    FakeEngine(monkeypatch, mirror.containers(), exec_out={
        "p-mirror-a-1": addrs("10.231.0.11", "10.231.0.200") + conf("MAIL", "10.231.0.200") + conf("MX2", "10.231.0.201"),
        "p-mirror-b-1": addrs("10.231.0.12") + conf("MAIL", "10.231.0.200") + conf("MX2", "10.231.0.201"),
        "p-xover-proxy-1": addrs("10.231.0.5")},
        logs={"p-mirror-a-1": "(VI_MAIL) Entering MASTER STATE\n(VI_MX2) Entering BACKUP STATE\n",
              "p-mirror-b-1": "(VI_MX2) Entering MASTER STATE\n"}, states={})
    with pytest.raises(HostError) as ei:
        mirror.wait_ready(deadline=0)
    assert str(ei.value) == (
        "the second virtual IP 10.231.0.201 never answered SMTP within 240 s (last: ConnectionRefusedError: "
        "[Errno 111] Connection refused): keepalived on mirror-b reports MASTER without the address.")


def test_wait_ready_names_a_service_with_its_container_state_and_last_log_line(mirror, monkeypatch):
    fail_on(monkeypatch, {"service": "mirror-b", "proto": "imap"}, timeout(TimeoutError("timed out"), 61.0))
    FakeEngine(monkeypatch, mirror.containers(), exec_out={}, states={"p-mirror-b-1": {"Status": "running", "ExitCode": 0}},
               logs={"p-mirror-b-1": "a\nmail-node[mirror-b]: waiting for the peer's replica\n"})
    with pytest.raises(HostError) as ei:
        mirror.wait_ready(deadline=0)
    assert str(ei.value) == ("mirror-b never answered IMAP on 10.231.0.12:143 within 61 s (last: TimeoutError: timed out): "
                             "its container is running and its last log line is "
                             "\"mail-node[mirror-b]: waiting for the peer's replica\".")


def test_a_container_that_died_while_awaited_says_so_with_its_exit_code(mirror, monkeypatch):
    gone = ContainerGone("gone")
    gone.last, gone.seconds, gone.state = ConnectionRefusedError(111, "Connection refused"), 3.2, "exited"
    fail_on(monkeypatch, {"service": "mirror-a", "proto": "imap"}, gone)
    FakeEngine(monkeypatch, mirror.containers(), exec_out={}, states={"p-mirror-a-1": {"Status": "exited", "ExitCode": 78}},
               logs={"p-mirror-a-1": "ERROR: keepalived needs the capabilities NET_ADMIN\n"})
    with pytest.raises(HostError) as ei:
        mirror.wait_ready(deadline=0)
    msg = str(ei.value)
    assert msg.startswith("mirror-a never answered IMAP on 10.231.0.11:143 within 3 s (last: ConnectionRefusedError")
    assert msg.endswith("its container is exited (exit code 78) and its last log line is "
                        "'ERROR: keepalived needs the capabilities NET_ADMIN'.")
    assert msg.count(". ") == 0  # one sentence


def test_the_named_extra_check_is_in_the_sentence(mirror, monkeypatch):
    fail_on(monkeypatch, {"service": "mirror-b", "proto": "exec"}, timeout(ConnectionError("'test -d …' exited 1"), 240))
    FakeEngine(monkeypatch, mirror.containers(), exec_out={}, states={"p-mirror-b-1": {"Status": "running"}}, logs={})
    with pytest.raises(HostError, match=r"^mirror-b never passed its check mirror-b-replicated \(`test -d /var/vmail/"):
        mirror.wait_ready(deadline=0)


def test_a_diagnosis_that_fails_never_hides_the_failure(mirror, monkeypatch):
    def broken():
        raise RuntimeError("engine gone")
    monkeypatch.setattr(mirror, "containers", broken)
    assert mirror.diagnose({"proto": "imap", "host": "10.231.0.200"}) == "no diagnosis (RuntimeError: engine gone)"


def test_a_webmail_check_logs_in_and_lists_the_inbox_and_says_so(monkeypatch):
    """``proto: webmail``: ready means a login and an inbox list worked, not the login page."""
    from harness import readiness
    from harness.clients import webmail

    calls = []

    class FakeSession:
        def __init__(self, base, timeout=10.0, nodes=()):
            calls.append(("base", base, timeout))

        def login(self, user, password):
            calls.append(("login", user, password))

        def list_inbox(self):
            calls.append(("list",))
            return {"uids": [3, 2, 1]}

    monkeypatch.setattr(webmail, "WebmailSession", FakeSession)
    out = readiness.check({"proto": "webmail", "service": "web1", "host": "10.9.0.31", "user": "probe@x.test",
                           "password": "pw"})
    assert out == "webmail login and inbox list ok (3 messages)"
    assert calls == [("base", "http://10.9.0.31:80", 10.0), ("login", "probe@x.test", "pw"), ("list",)]
    assert readiness.describe({"proto": "webmail", "host": "10.9.0.31"}) == "10.9.0.31:80 webmail"


def test_a_webmail_check_that_cannot_log_in_fails(monkeypatch):
    from harness import readiness
    from harness.clients import webmail

    class Refused:
        def __init__(self, *a, **k):
            pass

        def login(self, user, password):
            raise webmail.WebmailError("login refused (HTTP 401)")

    monkeypatch.setattr(webmail, "WebmailSession", Refused)
    with pytest.raises(webmail.WebmailError, match="401"):
        readiness.check({"proto": "webmail", "host": "10.9.0.31", "user": "u", "password": "p"})
