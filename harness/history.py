"""The history: an append-only JSONL record of every operation, probe and fault.

Each operation is a pair of events (Jepsen's model): an ``invoke`` and then exactly one
completion: ``ok`` (it happened), ``fail`` (it certainly did not happen) or ``info`` (the
outcome is unknown, e.g. the connection broke after DATA). Faults, observations and final
reads are operations too, so one timeline holds everything a checker needs.

One event per line::

    {"i": 7, "t": 1.234567, "type": "invoke", "proc": "smtp-0", "f": "send",
     "value": {...}, "test": "suites/mirror/test_x.py::test_y", "design": "mirror"}

``t`` is seconds on the monotonic clock since the run started; ``i`` is the line index.
Completions may also carry ``node`` (which server answered) and ``error`` (a short text).
The file is flushed after every line, so a killed run keeps its history.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

TYPES = ("invoke", "ok", "fail", "info")
COMPLETIONS = ("ok", "fail", "info")
NEMESIS = "nemesis"  # the process name of fault events


def heal_proc(fid: str) -> str:
    """The process a heal of fault ``fid`` is recorded under: heals may run side by side (a chaos
    driver heals in threads while it applies the next fault), and a process runs one operation at
    a time, so each heal is its own nemesis process (``nemesis-f3``)."""
    return f"{NEMESIS}-{fid}"


def is_nemesis(proc: str) -> bool:
    """Fault and heal events: ``nemesis`` (applies) and ``nemesis-<fault id>`` (heals)."""
    return proc == NEMESIS or proc.startswith(NEMESIS + "-")


@dataclass(frozen=True)
class Event:
    i: int
    t: float
    type: str
    proc: str
    f: str
    value: Any = None
    node: str | None = None
    error: str | None = None
    test: str | None = None
    design: str | None = None

    def to_json(self) -> str:
        d = {"i": self.i, "t": round(self.t, 6), "type": self.type, "proc": self.proc, "f": self.f}
        for k in ("value", "node", "error", "test", "design"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return json.dumps(d, separators=(",", ":"), sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        if d.get("type") not in TYPES:
            raise ValueError(f"history event {d.get('i')}: type must be one of {TYPES}, got {d.get('type')!r}")
        for k in ("i", "t", "proc", "f"):
            if k not in d:
                raise ValueError(f"history event {d.get('i')}: missing field {k!r}")
        return cls(i=int(d["i"]), t=float(d["t"]), type=d["type"], proc=str(d["proc"]), f=str(d["f"]),
                   value=d.get("value"), node=d.get("node"), error=d.get("error"),
                   test=d.get("test"), design=d.get("design"))


@dataclass
class Op:
    """An invoke joined with its completion (``done`` is None while pending / never completed)."""

    invoke: Event
    done: Event | None = None

    @property
    def type(self) -> str:
        return self.done.type if self.done else "info"  # never completed = outcome unknown

    @property
    def start(self) -> float:
        return self.invoke.t

    @property
    def end(self) -> float | None:
        return self.done.t if self.done else None

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def proc(self) -> str:
        return self.invoke.proc

    @property
    def value(self) -> Any:
        """The completion's value if it has one, else the invocation's."""
        if self.done is not None and self.done.value is not None:
            return self.done.value
        return self.invoke.value

    @property
    def node(self) -> str | None:
        return self.done.node if self.done else None

    @property
    def error(self) -> str | None:
        return self.done.error if self.done else "never completed"


class History:
    """Thread-safe recorder. ``History(path)`` appends to a file; ``History()`` keeps events in memory."""

    def __init__(self, path: Path | None = None, t0: float | None = None):
        self.path = Path(path) if path else None
        self.t0 = time.monotonic() if t0 is None else t0
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._fh = open(self.path, "a", buffering=1, encoding="utf-8") if self.path else None
        self.context: dict[str, str | None] = {"test": None, "design": None}
        self._listeners: list = []

    # -- recording ---------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, type: str, proc: str, f: str, value: Any = None, *, node: str | None = None,
            error: str | None = None, t: float | None = None, test: str | None = None,
            design: str | None = None) -> Event:
        if type not in TYPES:
            raise ValueError(f"unknown event type {type!r}")
        with self._lock:
            # rounded as written to the file: checks run live and re-run from the file see the same times
            ev = Event(i=next(self._counter), t=round(self.now() if t is None else t, 6), type=type, proc=proc, f=f,
                       value=value, node=node, error=error,
                       test=test if test is not None else self.context.get("test"),
                       design=design if design is not None else self.context.get("design"))
            self.events.append(ev)
            if self._fh:
                self._fh.write(ev.to_json() + "\n")
        for cb in list(self._listeners):
            cb(ev)
        return ev

    def invoke(self, proc: str, f: str, value: Any = None, **kw) -> Event:
        return self.add("invoke", proc, f, value, **kw)

    def ok(self, proc: str, f: str, value: Any = None, **kw) -> Event:
        return self.add("ok", proc, f, value, **kw)

    def fail(self, proc: str, f: str, value: Any = None, **kw) -> Event:
        return self.add("fail", proc, f, value, **kw)

    def info(self, proc: str, f: str, value: Any = None, **kw) -> Event:
        return self.add("info", proc, f, value, **kw)

    def listen(self, callback) -> None:
        """Call ``callback(event)`` for every new event (live progress lines)."""
        self._listeners.append(callback)

    def close(self) -> None:
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None

    # -- reading -----------------------------------------------------------------
    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)


def load(path: Path) -> list[Event]:
    """Read a history file; a truncated last line (killed writer) is ignored, other bad lines raise."""
    events: list[Event] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            events.append(Event.from_dict(json.loads(line)))
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break  # the writer was killed mid-line
            raise ValueError(f"{path}:{n + 1}: not a JSON line")
    return events


def select(events: Iterable[Event], *, test: str | None = None, design: str | None = None,
           f: str | Iterable[str] | None = None, proc_prefix: str | None = None,
           start: float | None = None, end: float | None = None) -> list[Event]:
    fs = {f} if isinstance(f, str) else (set(f) if f is not None else None)
    out = []
    for e in events:
        if test is not None and e.test != test:
            continue
        if design is not None and e.design != design:
            continue
        if fs is not None and e.f not in fs:
            continue
        if proc_prefix is not None and not e.proc.startswith(proc_prefix):
            continue
        if start is not None and e.t < start:
            continue
        if end is not None and e.t > end:
            continue
        out.append(e)
    return out


def pair(events: Iterable[Event]) -> list[Op]:
    """Join each invoke with the next completion of the same process (and same f).

    A process runs one operation at a time (as in Jepsen), so pairing by process is exact.
    A completion without an invoke is an error in the recorder, reported as ValueError.
    """
    pending: dict[str, Op] = {}
    ops: list[Op] = []
    for e in events:
        if e.type == "invoke":
            if e.proc in pending:
                raise ValueError(f"event {e.i}: process {e.proc!r} invoked {e.f!r} while {pending[e.proc].f!r} (event {pending[e.proc].invoke.i}) was pending")
            op = Op(e)
            pending[e.proc] = op
            ops.append(op)
        else:
            op = pending.pop(e.proc, None)
            if op is None:
                raise ValueError(f"event {e.i}: {e.type} for process {e.proc!r} without an invoke")
            if op.f != e.f:
                raise ValueError(f"event {e.i}: completion f={e.f!r} does not match invoke f={op.f!r}")
            op.done = e
    return ops


def ops(events: Iterable[Event], f: str | Iterable[str] | None = None, **kw) -> list[Op]:
    """Paired operations, optionally only of the given function name(s)."""
    paired = pair(select(events, **kw))
    if f is None:
        return paired
    fs = {f} if isinstance(f, str) else set(f)
    return [o for o in paired if o.f in fs]


def iter_fault_windows(events: Iterable[Event]) -> Iterator[dict]:
    """Fault windows from nemesis events: {id, fault, target, start, end, applied, healed}."""
    windows: dict[str, dict] = {}
    for op in pair(e for e in events if is_nemesis(e.proc)):
        v = op.invoke.value or {}
        fid = v.get("id")
        if op.f == "fault":
            windows[fid] = {"id": fid, "fault": v.get("fault"), "target": v.get("target"),
                            "start": op.end if op.done else op.start, "invoked": op.start,
                            "end": None, "applied": op.type == "ok", "healed": None,
                            "error": op.error if op.type != "ok" else None}
        elif op.f == "heal" and fid in windows:
            w = windows[fid]
            w["end"] = op.end if op.done else None
            w["healed"] = op.type == "ok"
            if op.type != "ok":
                w["error"] = op.error
    yield from windows.values()
