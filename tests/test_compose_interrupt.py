"""Ctrl-C while ``docker compose up`` runs: compose is let finish what it asked the engine for
before the interrupt goes on (a compose killed at once left the engine creating containers after
the cleanup had run — 17 containers of a design left behind), and a cluster interrupted in its
bring-up removes what was made. No Docker: the compose process and the cleanup are faked."""
import subprocess

import pytest

from harness import docker


class FakeCompose:
    """A compose process: the first ``communicate`` is interrupted, the next one finishes."""
    calls: list = []

    def __init__(self, argv, **kw):
        self.argv, self.returncode, self.killed = argv, None, False
        FakeCompose.calls.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def communicate(self, timeout=None):
        if not getattr(self, "interrupted", False):
            self.interrupted = True
            raise KeyboardInterrupt
        self.returncode = 130
        self.waited = timeout
        return "", "Gracefully stopping..."

    def kill(self):
        self.killed = True


def test_an_interrupted_compose_is_let_finish_before_the_interrupt_goes_on(monkeypatch):
    FakeCompose.calls = []
    monkeypatch.setattr(docker.subprocess, "Popen", FakeCompose)
    monkeypatch.setattr(docker, "docker_bin", lambda: "docker")
    with pytest.raises(KeyboardInterrupt):
        docker.compose(["up", "-d"], check=False)
    (p,) = FakeCompose.calls
    assert p.waited == docker.COMPOSE_INTERRUPT_WAIT_S and not p.killed


def test_a_compose_that_outlives_its_timeout_is_killed_with_one_sentence(monkeypatch):
    class Slow(FakeCompose):
        def communicate(self, timeout=None):
            if not self.killed:
                raise subprocess.TimeoutExpired("docker", timeout)
            return "", ""

    monkeypatch.setattr(docker.subprocess, "Popen", Slow)
    monkeypatch.setattr(docker, "docker_bin", lambda: "docker")
    with pytest.raises(docker.HostError, match=r"'docker compose up -d' did not finish within 5 s\."):
        docker.compose(["up", "-d"], timeout=5)
