"""The engine's own account of what happened to a run's containers, into the history.

::

    engine = EngineEvents(history, cluster.run_id).start()
    ...
    engine.stop()

Docker Engine streams an event for every container state change, stamped with the engine's
clock (``timeNano``). ``EngineEvents`` subscribes to the events of the containers labelled
``io.mailha.run=<run id>`` (Docker SDK for Python, ``harness.docker.client().events``) and records
each ``die``, ``kill``, ``stop``, ``start``, ``restart``, ``pause``, ``unpause`` and ``oom`` as
a ``node-event`` operation of process ``observer-engine`` at the time the ENGINE gives, not when
this process (or a poll) noticed — so the timeline shows when a node really died. Value::

    {"node": "mirror-b", "event": "die", "container": "mailha-…-mirror-b-1",
     "exitCode": 137, "timeNano": 1765054800123456789}

``node`` is the compose service (label ``com.docker.compose.service``; the container name
when there is none); ``exitCode`` comes with ``die``, ``signal`` with ``kill``.

Times: the engine runs on this host and shares its wall clock, so an engine time becomes
history time as the other observers do it: ``wall - (time.time() - time.monotonic()) -
history.t0`` (never later than ``history.now()``).

The stream never ends silently: when it breaks (engine restarted, socket closed, decode
error), a failed ``node-event`` operation with ``{"event": "stream"}`` and the error is recorded
and the subscription starts again from the last event's time, so events in between are
replayed by the engine (those already recorded are skipped).
"""
from __future__ import annotations

import threading
import time
from typing import Any

from .docker import LABEL_RUN
from .history import History

PROC = "observer-engine"
F = "node-event"
#: engine actions recorded (the engine names them so; ``oom`` is the kernel's OOM kill)
ACTIONS = ("die", "kill", "stop", "start", "restart", "pause", "unpause", "oom")
SERVICE_LABEL = "com.docker.compose.service"


def node_event(ev: dict) -> dict | None:
    """The history value of one engine event (a decoded ``/events`` message), or None for an
    event that is not a recorded container action."""
    if ev.get("Type", "container") != "container":
        return None
    action = ev.get("Action") or ev.get("status") or ""
    if action not in ACTIONS:
        return None
    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
    name = attrs.get("name") or ""
    out: dict[str, Any] = {"node": attrs.get(SERVICE_LABEL) or name, "event": action, "container": name,
                           "timeNano": int(ev.get("timeNano") or int(ev.get("time") or 0) * 10**9)}
    for k in ("exitCode", "signal"):
        if attrs.get(k) not in (None, ""):
            try:
                out[k] = int(attrs[k])
            except ValueError:
                out[k] = attrs[k]
    return out


class EngineEvents:
    """Records the engine's container events of run ``run_id`` into ``history`` (module
    docstring). ``client``: a Docker SDK client (default ``harness.docker.client()``; tests pass a fake
    whose ``events(**kw)`` returns an iterator, optionally with ``close()``). ``retry_s``: the
    pause before subscribing again after a broken stream."""

    def __init__(self, history: History, run_id: str, *, client=None, retry_s: float = 0.5):
        self.h = history
        self.run_id = run_id
        self._client = client
        self.retry_s = retry_s
        # wall clock -> history time (the engine shares this host's clock)
        self._offset = time.time() - time.monotonic()
        self._since_ns = int(time.time() * 1e9)   # subscribe from now; after a break, from the last event
        self._seen: set[tuple] = set()
        self._stream = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0
        self.failures = 0

    # -- times --------------------------------------------------------------------------------
    def t_of(self, time_ns: int) -> float:
        """History time of an engine timestamp (ns since the epoch)."""
        return min(time_ns / 1e9 - self._offset - self.h.t0, self.h.now())

    # -- the stream ---------------------------------------------------------------------------
    def client(self):
        if self._client is None:
            from . import docker

            self._client = docker.client()
        return self._client

    def _subscribe(self):
        since = f"{self._since_ns // 10**9}.{self._since_ns % 10**9:09d}"
        return self.client().events(decode=True, since=since,
                                    filters={"type": "container", "label": f"{LABEL_RUN}={self.run_id}"})

    def record(self, ev: dict) -> dict | None:
        """Record one decoded engine event (if it is one we keep); returns its value."""
        v = node_event(ev)
        if v is None:
            return None
        key = (v["timeNano"], (ev.get("Actor") or {}).get("ID") or ev.get("id"), v["event"])
        if key in self._seen:  # replayed after a reconnect
            return None
        self._seen.add(key)
        self._since_ns = max(self._since_ns, v["timeNano"])
        t = self.t_of(v["timeNano"])
        self.h.invoke(PROC, F, {"node": v["node"], "event": v["event"]}, t=t)
        self.h.ok(PROC, F, v, t=t, node=v["node"])
        self.recorded += 1
        return v

    def _failed(self, began_wall: float, error: BaseException) -> None:
        self.failures += 1
        t = min(began_wall - self._offset - self.h.t0, self.h.now())
        self.h.invoke(PROC, F, {"event": "stream"}, t=t)
        self.h.fail(PROC, F, {"event": "stream"},
                    error=f"engine event stream broke: {type(error).__name__}: {str(error)[:160]}")

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.time()
            try:
                self._stream = self._subscribe()
                for ev in self._stream:
                    if self._stop.is_set():
                        return
                    self.record(ev)
                if self._stop.is_set():
                    return
                raise ConnectionError("the engine closed the event stream")
            except Exception as e:
                if self._stop.is_set():
                    return  # closing the stream on stop() ends the read with an error
                self._failed(began, e)
                self._stop.wait(self.retry_s)
            finally:
                self._close_stream()

    def _close_stream(self) -> None:
        s, self._stream = self._stream, None
        close = getattr(s, "close", None)
        if close:
            try:
                close()
            except Exception:
                pass

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "EngineEvents":
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"engine-events-{self.run_id}")
        self._thread.start()
        return self

    def stop(self, settle_s: float = 0.3) -> None:
        """Stop after ``settle_s`` (events of the last moment still arrive), closing the stream."""
        if self._thread is None:
            return
        self._stop.wait(settle_s)
        self._stop.set()
        self._close_stream()
        self._thread.join(timeout=5)
        self._thread = None
