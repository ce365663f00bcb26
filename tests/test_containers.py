"""The testcontainers layer of the role smoke tests: what mailha sets for testcontainers on this
host, the labels every container and network carries, and a wait strategy that needs a real
protocol answer and gives up at once when the container exits. No engine is used."""
import pytest

from harness import containers
from harness.containers import READY, ProtocolWait, Run
from harness.docker import LABEL_DESIGN, LABEL_OWNER, LABEL_RUN
from harness.errors import ContainerGone, WaitTimeout
from testcontainers.core.config import ConnectionMode, testcontainers_config


def test_mailha_sets_ryuk_off_and_bridge_addresses_whatever_the_users_environment(monkeypatch):
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "false")
    testcontainers_config.ryuk_disabled = False
    testcontainers_config.connection_mode_override = ConnectionMode.gateway_ip
    assert containers.configure() == {"ryuk_disabled": True, "connection_mode_override": ConnectionMode.bridge_ip}
    assert testcontainers_config.ryuk_disabled is True
    assert testcontainers_config.connection_mode_override is ConnectionMode.bridge_ip
    assert not ConnectionMode.bridge_ip.use_mapped_port  # no port is published on the host


def test_every_role_waits_for_a_protocol_answer():
    assert set(READY) == {"mail", "webmail", "ldap", "lb", "nas", "ecm", "toxiproxy"}
    for role, checks in READY.items():
        assert checks and checks[0]["proto"] in ("smtp", "imap", "http", "ldap", "rpc", "toxiproxy"), role
        assert all("host" not in c for c in checks), role  # the container's address is filled in


def test_a_run_labels_its_network_and_containers_with_the_run_id_and_owner():
    run = Run("lb", subnet="10.222.3.0/24")
    labels = run.labels("lb")
    assert labels[LABEL_RUN] == run.run_id and "solo-lb" in run.run_id
    assert labels[LABEL_DESIGN] == "solo-lb" and ":" in labels[LABEL_OWNER]
    assert run.network.name == f"mailha-{run.run_id}"
    kw = run.network._docker_network_kw
    assert kw["labels"] == labels and kw["ipam"]["Config"][0]["Subnet"] == "10.222.3.0/24"


class FakeContainer:
    """What ProtocolWait uses of a RoleContainer."""

    def __init__(self, status="running"):
        self.name, self.role, self.ip = "mailha-x-mail", "mail", "10.9.9.9"
        self.started_at = None
        self._status = status

    def get_wrapped_container(self):
        fake = self

        class W:
            status = fake._status

            def reload(self):
                pass
        return W()


def test_protocol_wait_fills_in_the_address_and_keeps_answers(monkeypatch):
    seen = []

    def check(spec, container=None, timeout=3.0):
        seen.append((spec, container))
        if len(seen) < 3:
            raise ConnectionRefusedError(111, "refused")
        return f"{spec['proto']} ok"
    monkeypatch.setattr(containers.readiness, "check", check)
    c = FakeContainer()
    ProtocolWait([{"proto": "smtp"}, {"proto": "imap", "user": "u", "password": "p"}], timeout=5, interval=0.01).wait_until_ready(c)
    assert c.answers == ["smtp ok", "imap ok"] and c.ready_s is not None and c.started_at is not None
    assert seen[-1] == ({"proto": "imap", "user": "u", "password": "p", "host": "10.9.9.9"}, "mailha-x-mail")


def test_protocol_wait_names_the_container_and_check_and_stops_when_the_container_exited(monkeypatch):
    def never(spec, container=None, timeout=3.0):
        raise ConnectionRefusedError(111, "Connection refused")
    monkeypatch.setattr(containers.readiness, "check", never)
    with pytest.raises(WaitTimeout, match=r"mailha-x-mail \(mail\) to answer 10\.9\.9\.9:25 smtp in vain; last: "
                                         r"ConnectionRefusedError"):
        ProtocolWait([{"proto": "smtp"}], timeout=0.2, interval=0.05).wait_until_ready(FakeContainer())
    with pytest.raises(ContainerGone, match="container mailha-x-mail is exited"):
        ProtocolWait([{"proto": "smtp"}], timeout=30, interval=0.05).wait_until_ready(FakeContainer("exited"))


def test_volume_specs_read_like_docker_run():
    assert containers._volume("/a:/conf:ro") == ("/a", "/conf", "ro")
    assert containers._volume("/a:/conf") == ("/a", "/conf", "rw")


def test_an_exec_check_is_named_by_its_command(monkeypatch):
    def never(spec, container=None, timeout=3.0):
        raise ConnectionError("'nas-ready' exited 1: volume mail not started")
    monkeypatch.setattr(containers.readiness, "check", never)
    with pytest.raises(WaitTimeout, match=r"mailha-x-mail \(mail\) to pass `nas-ready` in vain; last: "
                                         r"ConnectionError: 'nas-ready' exited 1: volume mail not started"):
        ProtocolWait([{"proto": "exec", "cmd": "nas-ready"}], timeout=0.1, interval=0.05).wait_until_ready(FakeContainer())
