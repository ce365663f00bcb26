"""Probes per back end: IMAP and POP3 logins and SMTP RCPTs, through the client endpoint, for
the users of each back end separately, so that what one back end's (or LDAP's) failure does to
its own users and to everybody else can be told apart.

Each probe is a ``probe`` op whose proto names the group, ``imap@be1`` (docs/history.md), with
the user in its value; the availability checker and the scenarios read them like any probe.
The client timeout is longer than the error bound, so a hang shows as a hang, not as an error.
``probe(..., f="retry")`` records the same attempt as a ``retry`` op (a recovery watch's retry
of a user who failed); ``http`` (a webmail login) is available to single probes and retries.
"""
from __future__ import annotations

import poplib
import smtplib
import socket
import threading
import time

import requests

from harness.clients import identify, short_error
from harness.clients.imap import ERRORS as IMAP_ERRORS
from harness.clients.imap import Imap
from harness.clients.webmail import WebmailError, WebmailSession
from harness.history import History
from harness.probes import Sessions

PROTOS = ("imap", "pop3", "smtp")


class GroupProbes:
    """``groups``: {name: {user: password}}. Each (group, proto) has ``workers`` processes that
    each probe every ``period`` seconds, taking the group's users in turn."""

    def __init__(self, topo, history: History, groups: dict[str, dict[str, str]], protos=PROTOS,
                 period: float = 0.5, workers: int = 2, timeout: float = 12.0, target: str | None = None,
                 imap_select: bool = False):
        self.topo = topo
        #: an IMAP probe opens the INBOX (read-only) instead of a NOOP: a login alone need not
        #: touch the mail store (what a shared-storage outage takes away)
        self.imap_select = imap_select
        self.h = history
        self.groups = {g: sorted(u.items()) for g, u in groups.items() if u}
        self.protos = [p for p in protos if topo.has_endpoint(p)]
        self.period = period
        self.workers = workers
        self.timeout = timeout
        self.target = target
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _endpoint(self, proto: str) -> tuple[str, int]:
        host, port = self.topo.endpoint(proto)
        return (self.target or host), port

    def probe(self, proc: str, group: str, proto: str, user: str, pw: str, f: str = "probe") -> bool:
        host, port = self._endpoint(proto)
        label = f"{proto}@{group}"
        self.h.invoke(proc, f, {"proto": label, "user": user, "target": f"{host}:{port}"})
        node = None
        try:
            if proto == "imap":
                with Imap(host, port, user, pw, self.topo.node_names, self.timeout) as c:
                    node = c.node
                    if self.imap_select:
                        c.c.select_folder("INBOX", readonly=True)
                    else:
                        c.c.noop()
            elif proto == "pop3":
                p = poplib.POP3(host, port, timeout=self.timeout)
                node = identify(p.getwelcome().decode(errors="replace"), self.topo.node_names)
                try:
                    p.user(user)
                    p.pass_(pw)
                    p.stat()
                finally:
                    try:
                        p.quit()
                    except (poplib.error_proto, OSError):
                        pass
            elif proto == "http":  # a webmail login (Roundcube logs in to IMAP behind it)
                ws = WebmailSession(f"http://{host}:{port}", self.timeout, self.topo.node_names)
                try:
                    ws.login(user, pw)
                finally:
                    node = ws.node
            else:  # a recipient check: accepted (250) means the mail would be taken in
                with smtplib.SMTP(timeout=self.timeout) as s:
                    code, banner = s.connect(host, port)
                    node = identify(banner.decode(errors="replace"), self.topo.node_names)
                    if code != 220:
                        raise smtplib.SMTPConnectError(code, banner)
                    s.ehlo("mailha.test")
                    code, msg = s.mail("probe@mailha.test")
                    if code != 250:
                        raise smtplib.SMTPSenderRefused(code, msg, "probe@mailha.test")
                    code, msg = s.rcpt(user)
                    if code not in (250, 251):
                        raise smtplib.SMTPResponseException(code, msg)
                    s.rset()
            self.h.ok(proc, f, {"proto": label, "user": user}, node=node)
            return True
        except (*IMAP_ERRORS, poplib.error_proto, smtplib.SMTPException, OSError, socket.timeout, EOFError,
                WebmailError, requests.RequestException) as e:
            err = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}" if isinstance(e, smtplib.SMTPResponseException) \
                else short_error(e)
            self.h.fail(proc, f, {"proto": label, "user": user}, node=node, error=err[:200])
            return False

    def _loop(self, group: str, proto: str, k: int):
        proc = f"probe-{proto}@{group}-{k}"
        users = self.groups[group]
        i = k
        next_t = time.monotonic() + k * self.period / self.workers
        while not self._stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            user, pw = users[i % len(users)]
            i += self.workers
            self.probe(proc, group, proto, user, pw)
            next_t = max(next_t + self.period, time.monotonic())

    def start(self) -> "GroupProbes":
        for g in self.groups:
            for proto in self.protos:
                for k in range(self.workers):
                    t = threading.Thread(target=self._loop, args=(g, proto, k), daemon=True, name=f"gp-{proto}@{g}-{k}")
                    t.start()
                    self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)


def OpenSessions(topo, history: History, count: int = 6, timeout: float = 3.0) -> Sessions:
    """Long-lived IMAP sessions through the VIP that know which proxy they are on while open
    (``.on``, ``.busiest()``), so a test can kill the proxy that holds the most of them."""
    return Sessions(topo, history, imap=count, webmail=0, timeout=timeout, name="session-imap-open", user_stride=3)
