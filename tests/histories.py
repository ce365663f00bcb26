"""A tiny builder for synthetic histories (docs/history.md), for checker unit tests.

    h = (H().send("t1", at=1.0)
            .final_read("mirror-a", {"user1@example.test": {"INBOX": [(1, "t1", [])]}}))
    run_checker("messages", h.events)

Every operation is an invoke at ``at`` and a completion ``dur`` later; ``ok`` is
True (ok), False (fail), None (info) or "pending" (no completion: the run was killed).
Operations get their own process unless ``proc`` is given, so overlapping operations
never trip ``pair()``; repeated operations of one prober share a process, as in a run.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Iterable

from harness.history import Event

USER = "user1@example.test"
Outcome = bool | None | str


def _type(ok: Outcome) -> str | None:
    if ok == "pending":
        return None
    if isinstance(ok, str):
        assert ok in ("ok", "fail", "info"), ok
        return ok
    return {True: "ok", False: "fail", None: "info"}[ok]


class H:
    def __init__(self, test: str | None = None, design: str | None = None):
        self._raw: list[tuple[float, int, dict]] = []  # (t, seq, fields)
        self._seq = itertools.count()
        self._procs: dict[str, itertools.count] = {}
        self.test, self.design = test, design

    # -- generic ----------------------------------------------------------------------
    def op(self, proc: str, f: str, value: Any = None, *, at: float, ok: Outcome = True, dur: float = 0.05,
           result: Any = None, node: str | None = None, error: str | None = None) -> "H":
        """One operation: invoke(value) at ``at``, completion(result) at ``at + dur``."""
        self._add(at, "invoke", proc, f, value)
        t = _type(ok)
        if t is not None:
            if error is None and t != "ok":
                error = "timeout" if t == "info" else "refused"
            self._add(at + dur, t, proc, f, result, node=node, error=error if t != "ok" else None)
        return self

    def proc(self, prefix: str) -> str:
        """A fresh process name: smtp-0, smtp-1, ..."""
        c = self._procs.setdefault(prefix, itertools.count())
        return f"{prefix}-{next(c)}"

    def _add(self, t: float, type: str, proc: str, f: str, value: Any, **kw) -> None:
        self._raw.append((t, next(self._seq), dict(type=type, proc=proc, f=f, value=value, **kw)))

    @property
    def events(self) -> list[Event]:
        out = []
        for i, (t, _s, d) in enumerate(sorted(self._raw, key=lambda r: (r[0], r[1]))):
            out.append(Event(i=i, t=round(t, 6), test=self.test, design=self.design, **d))
        return out

    def jsonl(self) -> str:
        return "".join(e.to_json() + "\n" for e in self.events)

    # -- workload ---------------------------------------------------------------------
    def send(self, token: str, ok: Outcome = True, *, at: float, to: str | list[str] = USER, via: str = "vip",
             node: str | None = None, dur: float = 0.05, error: str | None = None) -> "H":
        result = {"token": token, "to": to, "reply": "250 2.0.0 Ok"} if ok is True else None
        return self.op(self.proc("smtp"), "send", {"token": token, "to": to, "via": via}, at=at, ok=ok, dur=dur,
                       result=result, node=node, error=error)

    def sends(self, tokens: Iterable[str], *, start: float, every: float = 0.2, **kw) -> "H":
        for n, token in enumerate(tokens):
            self.send(token, at=start + n * every, **kw)
        return self

    def read(self, mailbox_messages: list, *, at: float, user: str = USER, mailbox: str = "INBOX",
             uidvalidity: int = 1, node: str | None = None, ok: Outcome = True) -> "H":
        """An IMAP read; ``mailbox_messages`` is [(uid, token, flags)]."""
        result = {"user": user, "mailbox": mailbox, "uidvalidity": uidvalidity, "messages": _msgs(mailbox_messages)}
        return self.op(self.proc("imap"), "read", {"user": user, "mailbox": mailbox}, at=at, ok=ok,
                       result=result if ok is True else None, node=node)

    def expunge(self, tokens: list[str], ok: Outcome = True, *, at: float, user: str = USER,
                mailbox: str = "INBOX") -> "H":
        return self.op(self.proc("imap"), "expunge", {"user": user, "mailbox": mailbox, "tokens": tokens}, at=at, ok=ok)

    def move(self, tokens: list[str], to: str, ok: Outcome = True, *, at: float, user: str = USER,
             mailbox: str = "INBOX") -> "H":
        return self.op(self.proc("imap"), "move", {"user": user, "mailbox": mailbox, "to": to, "tokens": tokens},
                       at=at, ok=ok)

    def pop_delete(self, tokens: list[str], ok: Outcome = True, *, at: float, user: str = USER) -> "H":
        return self.op(self.proc("pop"), "pop-delete", {"user": user, "tokens": tokens}, at=at, ok=ok)

    def final_read(self, node: str, mailboxes: dict, *, at: float = 1000.0, uidvalidity: int = 1,
                   ok: Outcome = True) -> "H":
        """``mailboxes``: {user: {mailbox: [(uid, token, flags)] or {"uidvalidity": v, "messages": [...]}}}."""
        boxes = {}
        for user, mbs in mailboxes.items():
            boxes[user] = {}
            for mb, content in mbs.items():
                if isinstance(content, dict):
                    boxes[user][mb] = {"uidvalidity": content.get("uidvalidity", uidvalidity),
                                       "messages": _msgs(content["messages"])}
                else:
                    boxes[user][mb] = {"uidvalidity": uidvalidity, "messages": _msgs(content)}
        return self.op(f"final-{node}", "final-read", {"node": node}, at=at, ok=ok, dur=0.2,
                       result={"node": node, "mailboxes": boxes} if ok is True else None, node=node)

    # -- probes and sessions ----------------------------------------------------------
    def probe(self, proto: str, ok: Outcome = True, *, at: float, node: str | None = None, dur: float = 0.02,
              error: str | None = None, target: str = "vip") -> "H":
        return self.op(f"probe-{proto}", "probe", {"proto": proto, "target": target}, at=at, ok=ok, dur=dur,
                       node=node if ok is True else None, error=error)

    def probes(self, proto: str, *, start: float, end: float, every: float = 0.1,
               node: str | Callable[[float], str | None] = "mirror-a",
               down: Iterable[tuple[float, float]] = (), error: str = "connection refused", dur: float = 0.02) -> "H":
        """A prober at ``1/every`` Hz; probes started inside a ``down`` interval fail.
        ``node`` may be a function of time (who holds the VIP then)."""
        down = list(down)
        n = 0
        while True:
            t = round(start + n * every, 6)
            if t > end:
                return self
            failed = any(a <= t < b for a, b in down)
            who = node(t) if callable(node) else node
            if who is None:
                failed = True
            self.probe(proto, not failed, at=t, node=who, dur=dur, error=error if failed else None)
            n += 1

    def session(self, proto: str, ok: Outcome = True, *, start: float, end: float, node: str | None = "mirror-a",
                ops: int = 10) -> "H":
        err = "disconnected" if ok is False else None
        return self.op(self.proc(f"session-{proto}"), "session", {"proto": proto, "target": "vip"}, at=start,
                       ok=ok, dur=end - start, result={"ops": ops}, node=node, error=err)

    # -- observers --------------------------------------------------------------------
    def vip(self, holders: list[str], *, at: float, vip: str = "10.231.0.200", ok: Outcome = True) -> "H":
        return self.op("observer-vip", "vip-holders", {"vip": vip}, at=at, ok=ok, dur=0.01,
                       result={"vip": vip, "holders": holders})

    def vips(self, holders: Callable[[float], list[str]], *, start: float, end: float, every: float = 0.1) -> "H":
        n = 0
        while start + n * every <= end:
            t = round(start + n * every, 6)
            self.vip(holders(t), at=t)
            n += 1
        return self

    def lag(self, seconds: float, *, at: float, token: str | None = None, frm: str = "mirror-a",
            to: str = "mirror-b", ok: Outcome = True, f: str = "lag") -> "H":
        token = token or f"lag-{at}"
        return self.op(self.proc(f), f, {"token": token, "from": frm, "to": to}, at=at, ok=ok,
                       dur=seconds if ok is True else 5.0,
                       result={"token": token, "from": frm, "to": to, "seconds": seconds} if ok is True else None)

    def converge(self, after: str, seconds: float, *, at: float, identical: bool = True, ok: Outcome = True) -> "H":
        return self.op("observer-converge", "converge", {"after": after}, at=at, ok=ok, dur=seconds,
                       result={"after": after, "seconds": seconds, "identical": identical})

    # -- faults -----------------------------------------------------------------------
    def fault(self, id: str, fault: str, target: str, *, at: float, heal_at: float | None = None,
              ok: Outcome = True, heal_ok: Outcome = True, dur: float = 0.1, confirmed: bool | str = True,
              error: str | None = None) -> "H":
        """A fault applied at ``at`` (+dur) and, if ``heal_at`` is given, healed then."""
        self.op("nemesis", "fault", {"id": id, "fault": fault, "target": target, "params": {}}, at=at, ok=ok,
                dur=dur, result={"id": id, "confirmed": confirmed} if ok is True else None, error=error)
        if heal_at is not None:
            self.op("nemesis", "heal", {"id": id}, at=heal_at, ok=heal_ok, dur=dur,
                    result={"id": id, "confirmed": True} if heal_ok is True else None)
        return self


def _msgs(items: list) -> list[dict]:
    out = []
    for m in items:
        if isinstance(m, dict):
            out.append(m)
        else:
            uid, token, flags = (tuple(m) + ([],))[:3] if len(m) == 2 else m
            out.append({"uid": uid, "token": token, "flags": list(flags)})
    return out


def box(*tokens: str, first_uid: int = 1, flags: dict | None = None) -> list[tuple]:
    """Messages with consecutive UIDs: box("t1", "t2") -> [(1, "t1", []), (2, "t2", [])]."""
    flags = flags or {}
    return [(first_uid + n, t, flags.get(t, [])) for n, t in enumerate(tokens)]


def as_json(result: dict) -> str:
    """The canonical JSON of a result (what checks.json stores)."""
    return json.dumps(result, sort_keys=True, separators=(",", ":"), allow_nan=False)
