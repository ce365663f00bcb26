"""A Docker engine for unit tests, as ``harness.docker``'s SDK calls see it (``client().api``).

::

    eng = FakeApi(state="running")
    monkeypatch.setattr(harness.docker, "api", lambda: eng)

Every container has the one ``state`` (what ``inspect_container`` reports); kill and stop make
it ``exited``, start and unpause ``running``, pause ``paused``. ``refuse[op]``: explanations the
engine answers ``op`` with, one per call, before it obeys (``docker.errors.APIError``, or
``NotFound`` for "No such …"). ``calls``: the operations in order (inspections included).
``execs``: container -> (exit code, stdout, stderr) of every exec there; ``gone``: containers
the engine does not know.
"""
from __future__ import annotations

import docker.errors


def api_error(explanation: str) -> docker.errors.APIError:
    cls = docker.errors.NotFound if explanation.startswith("No such") else docker.errors.APIError
    return cls("engine error", explanation=explanation)


class FakeApi:
    def __init__(self, state: str = "running", *, refuse: dict[str, list[str]] | None = None,
                 execs: dict[str, tuple[int, str, str]] | None = None, gone: set[str] = frozenset()):
        self.state, self.refuse, self.execs, self.gone = state, dict(refuse or {}), dict(execs or {}), set(gone)
        self.calls: list[str] = []
        self._exec: dict[str, tuple[int, str, str]] = {}

    def _op(self, op: str, container: str, new_state: str | None = None) -> None:
        self.calls.append(op)
        if container in self.gone:
            raise api_error(f"No such container: {container}")
        if self.refuse.get(op):
            raise api_error(self.refuse[op].pop(0))
        if new_state:
            self.state = new_state

    def pause(self, c):
        self._op("pause", c, "paused")

    def unpause(self, c):
        self._op("unpause", c, "running")

    def kill(self, c, signal=None):
        self._op("kill", c, "exited")

    def stop(self, c, timeout=None):
        self.stopped_with = timeout
        self._op("stop", c, "exited")

    def start(self, c):
        self._op("start", c, "running")

    def remove_container(self, c, v=False, link=False, force=False):
        self._op("rm", c)
        self.gone.add(c)

    def inspect_container(self, c):
        self._op("inspect", c)
        return {"Name": "/" + c, "State": {"Status": self.state, "Pid": 4242 if self.state in ("running", "paused") else 0,
                                            "StartedAt": "2026-12-07T00:00:00.000000000Z"}}

    def exec_create(self, c, cmd, **kw):
        self._op("exec", c)
        if self.state != "running":
            raise api_error(f"Container {c} is not running")
        eid = f"e{len(self._exec)}"
        self._exec[eid] = self.execs.get(c, (0, "", ""))
        return {"Id": eid}

    def exec_start(self, eid, detach=False, demux=False, **kw):
        rc, out, err = self._exec[eid]
        return (out.encode() or None, err.encode() or None)

    def exec_inspect(self, eid):
        return {"Running": False, "ExitCode": self._exec[eid][0]}
