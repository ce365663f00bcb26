"""Availability probes and long-lived sessions through the client endpoints.

A prober per protocol fires a new, independent connection every ``1/rate`` seconds. Each probe
runs in its own logical process (``probe-imap-0`` … ``probe-imap-9``, one probe at a time each),
so a probe that hangs until its timeout does not lower the sampling rate: the failover gap is
measured to about one probe interval.

A probe or session thread never dies silently: an exception its client does not expect is
recorded as the ``fail`` of the operation it interrupted (error ``crashed: <type>: <text>``,
see ``checkers.common.CRASHED``) — a failure the harness saw, counted by the availability
checker — and the thread goes on probing.
"""
from __future__ import annotations

import threading
import time

from .clients.imap import ERRORS as IMAP_ERRORS
from .clients.imap import Imap, ImapClient
from .clients.pop3 import Pop3Client
from .clients.smtp import SmtpClient
from .clients.webmail import WebmailClient, WebmailError, WebmailSession
from .clients import short_error
from .checkers.common import CRASHED
from .history import History

PROTOS = ("smtp", "imap", "pop3", "http")


class Prober:
    """Probes every protocol in ``protos`` at ``rate`` Hz through the design's endpoints."""

    def __init__(self, topo, history: History, protos=PROTOS, rate: float = 10.0, timeout: float = 0.9):
        self.topo = topo
        self.h = history
        self.protos = [p for p in protos if topo.has_endpoint(p)]
        self.rate = rate
        self.timeout = timeout
        self.workers = max(1, int(round(rate * (timeout + 0.1))))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _probe_fn(self, proto: str, proc: str):
        host, port = self.topo.endpoint(proto)
        nodes = self.topo.node_names
        user, pw = self.topo.probe_user()
        if proto == "smtp":
            c = SmtpClient(self.h, proc, nodes, self.timeout)
            # x-mailha.probes.smtp: envelope -> MAIL FROM + RCPT TO the probe user (mail would be
            # taken in), not only a greeting; default greeting (EHLO + NOOP)
            envelope = user if (self.topo.meta.get("probes") or {}).get("smtp") == "envelope" else None
            return lambda: c.probe(host, port, "vip", envelope=envelope)
        if proto == "imap":
            c = ImapClient(self.h, proc, nodes, self.timeout)
            return lambda: c.probe(host, port, user, pw, "vip")
        if proto == "pop3":
            c = Pop3Client(self.h, proc, nodes, self.timeout)
            return lambda: c.probe(host, port, user, pw, "vip")
        if proto == "http":
            c = WebmailClient(self.h, proc, nodes, self.timeout)
            return lambda: c.probe(f"http://{host}:{port}", "vip")
        raise ValueError(proto)

    def _loop(self, proto: str, k: int):
        proc = f"probe-{proto}-{k}"
        fn = self._probe_fn(proto, proc)
        period = self.workers / self.rate
        next_t = time.monotonic() + k / self.rate
        while not self._stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            try:
                fn()
            except Exception as e:
                crashed(self.h, proc, e)
                self._stop.wait(0.1)
            next_t += period
            if next_t < time.monotonic():  # fell behind (a probe hung): realign, don't burst
                next_t = time.monotonic() + period

    def start(self):
        for proto in self.protos:
            for k in range(self.workers):
                t = threading.Thread(target=self._loop, args=(proto, k), daemon=True, name=f"probe-{proto}-{k}")
                t.start()
                self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)


class Sessions:
    """Long-lived client sessions: IMAP connections that NOOP twice a second, webmail sessions
    that list the inbox every second. A session the server breaks is a ``session`` op that
    fails (``broken``); the client then reconnects, like a mail client would."""

    def __init__(self, topo, history: History, imap: int = 4, webmail: int = 2, timeout: float = 2.0,
                 name: str = "session-imap", user_stride: int = 1):
        self.topo = topo
        self.h = history
        self.n_imap = imap if topo.has_endpoint("imap") else 0
        self.n_web = webmail if topo.has_endpoint("http") else 0
        self.timeout = timeout
        self.name = name              # process names: <name>-<k>
        self.user_stride = user_stride
        self.on: dict[int, str | None] = {}  # IMAP session k -> the node it is open on now
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _imap(self, k: int):
        proc = f"{self.name}-{k}"
        host, port = self.topo.endpoint("imap")
        users = sorted(self.topo.users().items())
        user, pw = users[(k * self.user_stride) % len(users)]
        while not self._stop.is_set():
            self.h.invoke(proc, "session", {"proto": "imap", "user": user})
            ops, node, step = 0, None, "login"
            try:
                with Imap(host, port, user, pw, self.topo.node_names, self.timeout) as c:
                    node = self.on[k] = c.node
                    step = "select"
                    c.c.select_folder("INBOX", readonly=True)
                    step = "noop"
                    while not self._stop.wait(0.5):
                        c.c.noop()
                        ops += 1
                self.h.ok(proc, "session", {"proto": "imap", "ops": ops}, node=node)
            except IMAP_ERRORS as e:
                self.h.fail(proc, "session", {"proto": "imap", "ops": ops, "step": step}, node=node,
                            error=f"broken: {short_error(e)}")
                self._stop.wait(0.2)
            except Exception as e:  # not a server's doing: the harness's own failure, counted as broken
                self.h.fail(proc, "session", {"proto": "imap", "ops": ops}, node=node, error=_crash_text(e))
                self._stop.wait(0.2)
            finally:
                self.on[k] = None

    def busiest(self, among: list[str]) -> str:
        """The node of ``among`` holding the most open IMAP sessions now."""
        counts = {n: sum(1 for v in self.on.values() if v == n) for n in among}
        return max(among, key=lambda n: (counts[n], -among.index(n)))

    def _web(self, k: int):
        proc = f"session-http-{k}"
        host, port = self.topo.endpoint("http")
        users = list(self.topo.users().items())
        user, pw = users[-1 - (k % len(users))]
        while not self._stop.is_set():
            self.h.invoke(proc, "session", {"proto": "http", "user": user})
            ops, ws, step = 0, WebmailSession(f"http://{host}:{port}", self.timeout, self.topo.node_names), "login"
            try:
                ws.login(user, pw)
                step = "list"
                while not self._stop.wait(1.0):
                    ws.list_inbox()
                    ops += 1
                self.h.ok(proc, "session", {"proto": "http", "ops": ops}, node=ws.node)
            except (WebmailError, OSError) as e:  # requests' errors are OSErrors
                self.h.fail(proc, "session", {"proto": "http", "ops": ops, "step": step}, node=ws.node,
                            error=f"broken: {short_error(e)}")
                self._stop.wait(0.5)
            except Exception as e:  # not a server's doing: the harness's own failure, counted as broken
                self.h.fail(proc, "session", {"proto": "http", "ops": ops}, node=ws.node, error=_crash_text(e))
                self._stop.wait(0.5)

    def start(self):
        for k in range(self.n_imap):
            self._threads.append(threading.Thread(target=self._imap, args=(k,), daemon=True))
        for k in range(self.n_web):
            self._threads.append(threading.Thread(target=self._web, args=(k,), daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 10)


def _crash_text(e: BaseException) -> str:
    return f"{CRASHED}: {type(e).__name__}: {e}"[:200]


def crashed(history: History, proc: str, e: BaseException) -> bool:
    """Complete ``proc``'s open operation as ``fail`` with the exception's text (a client raised
    something it does not expect, leaving its invoke without a completion). False when ``proc``
    had no open operation (the exception came before the invoke): nothing to complete."""
    pending = None
    for ev in reversed(history.events[-5000:]):  # the open invoke is recent: at most one timeout ago
        if ev.proc == proc:
            pending = ev if ev.type == "invoke" else None
            break
    if pending is None:
        return False
    history.fail(proc, pending.f, pending.value, error=_crash_text(e))
    return True
