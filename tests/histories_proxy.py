"""Synthetic histories of the tiered designs (front ends, a directory, back ends holding their
own users), for the unit tests of the checkers the proxy suite uses. Builds on ``tests.histories.H``:

    h = HP().fault("f1", "stop", "ldap", at=5, heal_at=15)
    h.gprobe("proxy1", "smtp", U1, ok=False, at=6, error="451 4.3.0 Temporary lookup failure")
    h.retry("proxy1", "smtp", U1, at=15.5)
    run_checker("dependency_outage", h.events, dependency="ldap")

The operations are those suites/proxy/scenarios.py records (docs/history.md).
"""
from __future__ import annotations

from tests.histories import H, Outcome

U1, U2, U3, U4 = (f"user{i}@example.test" for i in (1, 2, 11, 12))  # U1, U2 on be1; U3, U4 on be2
OWNERS = {U1: "be1", U2: "be1", U3: "be2", U4: "be2"}
PROXIES = ["proxy1", "proxy2"]
HOSTS = {"10.242.0.21": "be1", "10.242.0.22": "be2", "be1": "be1", "be2": "be2"}


class HP(H):
    # -- users' attempts ---------------------------------------------------------------------
    def gprobe(self, group: str, proto: str, user: str, ok: Outcome = True, *, at: float, dur: float = 0.05,
               node: str | None = None, error: str | None = None, f: str = "probe") -> "HP":
        """A probe of one group (``imap@proxy1``) for one user; ``f="retry"`` for a recovery watch's retry."""
        prefix = "probe" if f == "probe" else f
        self.op(self.proc(f"{prefix}-{proto}@{group}"), f, {"proto": f"{proto}@{group}", "user": user,
                                                           "target": group},
                at=at, ok=ok, dur=dur, result={"proto": f"{proto}@{group}", "user": user}, node=node, error=error)
        return self

    def retry(self, group: str, proto: str, user: str, ok: Outcome = True, *, at: float, **kw) -> "HP":
        return self.gprobe(group, proto, user, ok, at=at, f="retry", **kw)

    def user_op(self, f: str, user: str, ok: Outcome = True, *, at: float, dur: float = 0.05, node: str | None = None,
                error: str | None = None, proc: str | None = None, result: dict | None = None) -> "HP":
        """A workload operation (``send`` uses ``to``) through the client endpoint."""
        value = {"to": user, "token": f"tok-{at}"} if f == "send" else {"user": user}
        return self.op(proc or self.proc(f"w-{f}"), f, value, at=at, ok=ok, dur=dur, node=node, error=error,
                       result=result if result is not None else (dict(value) if ok is True else None))

    def usession(self, proto: str, user: str, ok: Outcome = True, *, start: float, end: float,
                 node: str | None = None, proc: str | None = None) -> "HP":
        return self.op(proc or self.proc(f"session-{proto}"), "session", {"proto": proto, "user": user}, at=start,
                       ok=ok, dur=end - start, node=node, result={"proto": proto, "ops": 3},
                       error="broken: connection reset" if ok is False else None)

    def restart(self, node: str, *, at: float, ok: Outcome = True) -> "HP":
        return self.op("scenario-restart", "restart", {"node": node}, at=at, ok=ok, dur=0.3)

    # -- what the scenario read from the servers --------------------------------------------------
    def held(self, node: str, users: list[str], *, at: float, ok: Outcome = True) -> "HP":
        return self.op(f"held-{node}", "held-users", {"node": node}, at=at, ok=ok,
                       result={"node": node, "held": sorted(users)} if ok is True else None)

    def direct_read(self, node: str, user: str, tokens: list[str], *, at: float, ok: Outcome = True,
                    proc: str | None = None) -> "HP":
        return self.op(proc or f"route-direct-{node}", "read", {"user": user, "mailbox": "*", "node": node}, at=at,
                       ok=ok, node=node, result={"user": user, "mailbox": "*", "tokens": sorted(tokens)} if ok is True else None)

    def proxy_read(self, proxy: str, proto: str, user: str, tokens: list[str] | None, *, at: float) -> "HP":
        ok = tokens is not None
        if proto == "imap":
            result = {"user": user, "mailbox": "INBOX", "uidvalidity": 1,
                      "messages": [{"uid": i + 1, "token": t, "flags": []} for i, t in enumerate(tokens or [])]}
            return self.op(f"route-imap-{proxy}", "read", {"user": user, "mailbox": "INBOX"}, at=at, ok=ok,
                           node=proxy, result=result if ok else None)
        return self.op(f"route-pop-{proxy}", "pop-read", {"user": user}, at=at, ok=ok, node=proxy,
                       result={"user": user, "tokens": list(tokens or [])} if ok else None)

    def directory(self, entries: dict[str, list[str]] | None, *, at: float) -> "HP":
        return self.op("route-directory", "directory", {"base": "ou=people,dc=example,dc=test"}, at=at,
                       ok=entries is not None, result={"entries": entries} if entries is not None else None)

    def route_send(self, token: str, to: str, ok: Outcome = True, *, at: float, error: str | None = None) -> "HP":
        return self.op("route-smtp", "send", {"token": token, "to": to, "via": "10.241.0.200:25"}, at=at, ok=ok,
                       result={"token": token, "to": to} if ok is True else None, error=error)

    def connect(self, layer: str, targets: dict[str, str | None], opened: list[str], *, at: float,
                unanswered: tuple[str, ...] = (), ok: Outcome = True, error: str | None = None) -> "HP":
        closed = sorted(t for t in targets if t not in opened and t not in unanswered)
        return self.op("segment-client", "connect", {"layer": layer, "targets": targets}, at=at, ok=ok, dur=2.0,
                       result={"layer": layer, "open": sorted(opened), "closed": closed} if ok is True else None,
                       error=error)

    def route(self, via: str, *, at: float, ok: Outcome = True) -> "HP":
        return self.op("segment-client", "route", {"via": via, "targets": ["10.242.0.21"]}, at=at, ok=ok)

    def maillog(self, node: str, *, at: float, sent: int = 0, deferred: int = 0, bounced: int = 0,
                reasons: tuple[str, ...] = (), ok: Outcome = True) -> "HP":
        return self.op(f"maillog-{node}", "maillog", {"node": node, "since": 0}, at=at, ok=ok,
                       result={"node": node, "sent": sent, "deferred": deferred, "bounced": bounced,
                               "bounce_reasons": list(reasons)} if ok is True else None)

    def step(self, name: str, *, at: float, dur: float = 1.0, ok: Outcome = True) -> "HP":
        return self.op("scale-steps", "scale-step", {"step": name}, at=at, ok=ok, dur=dur,
                       result={"step": name} if ok is True else None)

    def started(self, label: str, services: dict[str, str | None], *, at: float) -> "HP":
        return self.op("scale-started", "started", {"label": label}, at=at, result={"label": label,
                                                                                   "services": services})
