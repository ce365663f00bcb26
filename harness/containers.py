"""Role images started alone with testcontainers, for their smoke tests (suites/roles).

::

    with role_container("ldap") as c:                    # ready = an admin bind + base search
        c.ip, c.exec("slapcat"), c.kill(), c.start_again()
    with Run("nas") as run:                              # several containers on one labelled network
        nas = run.start("nas", cap_add=["SYS_ADMIN"])
        client = run.start("nas", suffix="client1", ready=(), command=["sleep", "infinity"])

Each container is a testcontainers ``DockerContainer`` whose wait strategy (``ProtocolWait``)
needs a real protocol answer — the checks of ``harness.readiness`` (an SMTP 220, an IMAP
greeting and login, an LDAP bind, the login page, a glusterd RPC reply, Toxiproxy's API) — and
ends at once, with the container's state, if the container exits while being waited on.

What mailha sets for testcontainers on this host (``configure``; docs/testcontainers.md):

- **Ryuk off.** Ryuk is testcontainers' reaper, itself a container (``testcontainers/ryuk``) that
  would be pulled from a registry; mailha never pulls, and its own labels already do the
  reaper's job: every container and network here carries ``io.mailha.run`` and the owner label
  (``<host>/<pidns>:<pid>:<start>``), is removed when the ``with`` block ends (success, failure,
  Ctrl-C), and a killed process's leftovers are removed by the next run's sweep.
- **Connection mode ``bridge_ip``.** This host runs inside a container (``/.dockerenv``) with the
  engine's bridges local, so testcontainers would guess ``gateway_ip`` (the default gateway's
  address, which reaches nothing published) — measured in
  ../shared/research/ecm-webmail-python-feasibility.md §4.1. The tests talk to each container
  on its own network address (the lb tests need the network itself: VRRP, virtual IPs), so the
  host is the container's bridge address and no port is published on the host, where a test
  image with known passwords must not be reachable.

Both are set on testcontainers' configuration object, not through the user's environment, so
a user's shell or ``~/.testcontainers.properties`` cannot turn them into a pull or a wrong address.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

import docker.errors
from docker.types import EndpointConfig, IPAMConfig, IPAMPool
from testcontainers.core.config import ConnectionMode, testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from . import docker as mdocker
from . import images, readiness
from .cluster import owner_label, remove_run
from .docker import LABEL_DESIGN, LABEL_OWNER, LABEL_RUN
from .errors import HostError
from .store import new_run_id
from .wait import until

#: what ``configure`` sets on testcontainers' configuration (and why: the module docstring)
SETTINGS = {"ryuk_disabled": True, "connection_mode_override": ConnectionMode.bridge_ip}


def configure() -> dict:
    """Set what testcontainers needs on this host (see the module docstring); returns it."""
    for k, v in SETTINGS.items():
        setattr(testcontainers_config, k, v)
    return dict(SETTINGS)


configure()

#: the protocol answer each role's image gives when started alone with its defaults
READY: dict[str, tuple[dict, ...]] = {
    "mail": ({"proto": "smtp"}, {"proto": "imap"}),
    "webmail": ({"proto": "http", "path": "/", "expect": "rcmloginuser"},),
    "ldap": ({"proto": "ldap", "bind_dn": "cn=admin,dc=example,dc=test", "password": "secret",
              "base": "dc=example,dc=test"},),
    "lb": ({"proto": "http", "port": 8404, "path": "/healthz", "expect": "ok"},),
    "nas": ({"proto": "rpc"},),                       # glusterd answers its dump program on 24007
    "ecm": ({"proto": "smtp"},),
    "toxiproxy": ({"proto": "toxiproxy"},),
}


def state_of(wrapped) -> str:
    """A docker SDK container's ``State.Status``; ``removed`` when the engine no longer knows it."""
    try:
        wrapped.reload()
    except docker.errors.NotFound:
        return "removed"
    except docker.errors.APIError:
        return "unknown"
    return wrapped.status


class ProtocolWait(WaitStrategy):
    """Ready when every check answers, in order: ``harness.readiness`` specs without ``host``
    (the container's address is filled in; ``exec`` specs run in the container).

    Waits at most ``timeout`` seconds in all (``harness.wait.until``: a one-sentence
    ``WaitTimeout`` naming the container and check and the last error); a container that is no
    longer running ends the wait at once (``ContainerGone``). The answers and the seconds from
    the engine's start to the last answer are kept on the container (``answers``, ``ready_s``;
    ``started_at``: the monotonic time of the first start)."""

    def __init__(self, checks: Iterable[dict], timeout: float = 60.0, interval: float = 0.1,
                 check_timeout: float = 3.0):
        super().__init__()
        self.checks = [dict(c) for c in checks]
        self.check_timeout = check_timeout   # one try's own timeout (connect, greeting, bind)
        self._startup_timeout = float(timeout)
        self._poll_interval = float(interval)

    def wait_until_ready(self, container: "RoleContainer") -> None:
        t0 = time.monotonic()
        if container.started_at is None:  # the first wait begins as the engine has started it
            container.started_at = t0
        deadline = t0 + self._startup_timeout
        container.answers = []
        for spec in self.checks:
            spec = {**spec, "host": container.ip}
            what = f"{container.name} ({container.role}) to {_check_words(spec)}"
            container.answers.append(until(
                lambda spec=spec: readiness.check(spec, container.name, timeout=self.check_timeout),
                timeout=max(0.0, deadline - time.monotonic()), interval=self._poll_interval, what=what,
                container=container.name, state=lambda _name: state_of(container.get_wrapped_container())))
        container.ready_s = time.monotonic() - t0


def _check_words(spec: dict) -> str:
    """``answer smtp on 10.9.0.2:25`` / ``pass `nas-ready```: a check in a few words."""
    if spec["proto"] == "exec":
        return f"pass `{spec.get('cmd')}`"
    return f"answer {readiness.describe({**spec, 'service': None})}"


def _volume(spec: str) -> tuple[str, str, str]:
    host, _, rest = spec.partition(":")
    target, _, mode = rest.partition(":")
    return host, target, mode or "rw"


class RoleContainer(DockerContainer):
    """One role image as a testcontainers container on a ``Run``'s network, with its labels.

    ``ready``: readiness specs (default ``READY[role]``; ``()`` for none, e.g. for a container
    that must refuse to start). ``ip``: a fixed address on the run's network. ``command=()``
    keeps the image's own entrypoint and command."""

    def __init__(self, role: str, run: "Run", *, suffix: str | None = None, hostname: str | None = None,
                 env: dict | None = None, cap_add: Iterable[str] = (), devices: Iterable[str] = (),
                 volumes: Iterable[str] = (), tmpfs: Iterable[str] = (), command: Iterable[str] = (),
                 ip: str | None = None, ready: Iterable[dict] | None = None, timeout: float = 60.0,
                 interval: float = 0.1):
        ref = images.resolve(role)
        if not ref:
            images.build([role])
            ref = images.resolve(role)
        super().__init__(ref, env={k: str(v) for k, v in (env or {}).items()}, network=run.network,
                         name=f"{run.network.name}-{suffix or role}", command=list(command) or None)
        self.role, self.run = role, run
        self.answers: list[str] = []
        self.ready_s: float | None = None
        self.started_at: float | None = None   # monotonic, just after the engine started it
        self._ip = ip
        for v in volumes:
            self.with_volume_mapping(*_volume(v))
        for t in tmpfs:
            self.with_tmpfs_mount(t)
        kw: dict[str, Any] = {"labels": run.labels(role), "hostname": hostname or role}
        if cap_add:
            kw["cap_add"] = list(cap_add)
        if devices:
            kw["devices"] = list(devices)
        if ip:
            version = self.get_docker_client().client.api.api_version
            kw["networking_config"] = {run.network.name: EndpointConfig(version, ipv4_address=ip)}
        self.with_kwargs(**kw)
        checks = READY.get(role, ()) if ready is None else tuple(ready)
        if checks:
            self.waiting_for(ProtocolWait(checks, timeout=timeout, interval=interval))

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def ip(self) -> str:
        """The container's address on the run's network (testcontainers' host in bridge_ip mode)."""
        if not self._ip:
            self._ip = until(lambda: self.get_container_host_ip(), timeout=5, interval=0.1,
                             what=f"{self.name} to get an IP address")
        return self._ip

    def address(self) -> str:
        """The address the engine reports now ("" while it has none): after a restart it must
        still be ``ip``, or clients that know the old one cannot follow."""
        w = self.get_wrapped_container()
        w.reload()
        return ((w.attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(self.run.network.name, {}).get("IPAddress", "")

    # -- start ----------------------------------------------------------------------------
    def start(self) -> "RoleContainer":
        try:
            self.get_docker_client().client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise HostError(f"image {self.image} (role {self.role}) is not on this engine and mailha never pulls; "
                            f"run 'mailha images build'.") from None
        super().start()
        if self.started_at is None:
            self.started_at = time.monotonic()
        return self

    # -- what the smoke tests do to it ----------------------------------------------------
    def exec(self, cmd, *, timeout: float = 30, detach: bool = False) -> mdocker.Result:  # type: ignore[override]
        """A command in the container with its exit code, stdout and stderr (a string runs under
        ``sh -c``); never raises on a non-zero exit."""
        return mdocker.exec_(self.name, cmd, timeout=timeout, detach=detach)

    def sh(self, cmd: str, timeout: float = 60) -> mdocker.Result:
        """``bash -c CMD`` in the container."""
        return mdocker.exec_(self.name, ["bash", "-c", cmd], timeout=timeout)

    def logs(self, tail: int | str = "all") -> str:
        w = self.get_wrapped_container()
        return w.logs(stdout=True, stderr=True, tail=tail).decode(errors="replace")

    def state(self) -> dict:
        """The engine's ``State`` of the container (``Status``, ``ExitCode``, ``Running``…)."""
        w = self.get_wrapped_container()
        w.reload()
        return w.attrs.get("State") or {}

    def kill(self, signal: str | None = None) -> None:
        self.get_wrapped_container().kill(**({"signal": signal} if signal else {}))

    def docker_stop(self, timeout: int = 10) -> None:
        """``docker stop`` (SIGTERM, then SIGKILL after ``timeout`` s); the container is kept."""
        self.get_wrapped_container().stop(timeout=timeout)

    def start_again(self) -> None:
        """``docker start`` of the stopped or killed container (no readiness wait)."""
        self.get_wrapped_container().start()

    def pause(self) -> None:
        self.get_wrapped_container().pause()

    def unpause(self) -> None:
        self.get_wrapped_container().unpause()

    def wait_ready(self, checks: Iterable[dict] | None = None, timeout: float = 60.0, interval: float = 0.1,
                   check_timeout: float = 3.0) -> float:
        """Wait again for ``checks`` (default this container's own) after a restart; seconds taken."""
        if checks is None:
            checks = self._wait_strategy.checks if isinstance(self._wait_strategy, ProtocolWait) else READY.get(self.role, ())
        ProtocolWait(checks, timeout=timeout, interval=interval, check_timeout=check_timeout).wait_until_ready(self)
        return self.ready_s


class Run:
    """One labelled network, and the containers started on it, for a role smoke test.

    Every container and the network carry ``io.mailha.run=<run id>``, the owner label and
    ``io.mailha.design=solo-<role>``. Leaving the ``with`` block — normally, on a failure, or on
    Ctrl-C — removes the containers (with their anonymous volumes) and the network, then anything
    else that carries the run id; nothing without it is touched. ``subnet`` (e.g.
    ``"10.240.3.0/24"``) gives the network a known range, for fixed addresses."""

    def __init__(self, role: str, subnet: str | None = None):
        self.role = role
        self.run_id = new_run_id(f"solo-{role}")
        self.subnet = subnet
        kw: dict[str, Any] = {"labels": self.labels(role)}
        if subnet:
            kw["ipam"] = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])
        self.network = Network(docker_network_kw=kw)
        self.network.name = f"mailha-{self.run_id}"
        self.containers: list[RoleContainer] = []

    def labels(self, role: str) -> dict[str, str]:
        return {LABEL_RUN: self.run_id, LABEL_OWNER: owner_label(), LABEL_DESIGN: f"solo-{role}"}

    def __enter__(self) -> "Run":
        try:
            self.network.create()
        except docker.errors.APIError as e:
            raise HostError(f"could not create the test network {self.network.name}: {e.explanation or e}") from None
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for c in reversed(self.containers):
            try:
                c.stop()
            except docker.errors.APIError:
                pass  # already gone; remove_run below makes sure
        try:
            self.network.remove()
        except (docker.errors.APIError, AssertionError):
            pass
        remove_run(self.run_id)

    def container(self, role: str | None = None, **kw) -> RoleContainer:
        """A container of ``role`` (default the run's) on this network, not started yet."""
        return RoleContainer(role or self.role, self, **kw)

    def start(self, role: str | None = None, **kw) -> RoleContainer:
        """Start a container (``RoleContainer``'s options) and wait for its protocol answer."""
        c = self.container(role, **kw)
        self.containers.append(c)  # before start: a failed wait must still be cleaned up
        return c.start()


def role_container(role: str, *, subnet: str | None = None, **kw) -> "_Solo":
    """``with role_container("mail", env=...) as c``: one role image alone on its own labelled
    network, ready when its protocol answers (``RoleContainer``'s options); ``c.run`` starts more
    containers on the same network."""
    return _Solo(role, subnet, kw)


@dataclass
class _Solo:
    role: str
    subnet: str | None
    kw: dict

    def __enter__(self) -> RoleContainer:
        self._run = Run(self.role, self.subnet).__enter__()
        try:
            return self._run.start(self.role, **self.kw)
        except BaseException:
            self._run.close()
            raise

    def __exit__(self, *exc) -> None:
        self._run.close()
