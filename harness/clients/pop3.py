"""POP3 client (poplib): list tokens, delete, probe."""
from __future__ import annotations

import poplib
import socket

from ..history import History
from . import identify, short_error
from .message import token_of

ERRORS = (poplib.error_proto, OSError, socket.timeout, EOFError)


class Pop3Client:
    def __init__(self, history: History, proc: str, nodes=(), timeout: float = 10.0):
        self.h = history
        self.proc = proc
        self.nodes = tuple(nodes)
        self.timeout = timeout

    def _login(self, host, port, user, password):
        p = poplib.POP3(host, port, timeout=self.timeout)
        node = identify(p.getwelcome().decode(errors="replace"), self.nodes)
        p.user(user)
        p.pass_(password)
        return p, node

    @staticmethod
    def _tokens(p) -> dict[int, str]:
        out = {}
        _resp, listing, _ = p.list()
        for line in listing:
            num = int(line.split()[0])
            _r, lines, _o = p.top(num, 0)
            out[num] = token_of(b"\r\n".join(lines))
        return out

    def read(self, host, port, user, password) -> list[str] | None:
        self.h.invoke(self.proc, "pop-read", {"user": user})
        node = None
        try:
            p, node = self._login(host, port, user, password)
            try:
                toks = sorted(t for t in self._tokens(p).values() if t)
            finally:
                p.quit()
            self.h.ok(self.proc, "pop-read", {"user": user, "tokens": toks}, node=node)
            return toks
        except ERRORS as e:
            self.h.fail(self.proc, "pop-read", {"user": user}, node=node, error=short_error(e))
            return None

    def delete(self, host, port, user, password, tokens: list[str]) -> str:
        """DELE the messages with these tokens; committed only when QUIT answers +OK."""
        self.h.invoke(self.proc, "pop-delete", {"user": user, "tokens": tokens})
        node = None
        quitting = False
        try:
            p, node = self._login(host, port, user, password)
            found = [n for n, t in self._tokens(p).items() if t in set(tokens)]
            for n in found:
                p.dele(n)
            quitting = True
            p.quit()
            if not found:
                self.h.fail(self.proc, "pop-delete", {"user": user, "tokens": tokens}, node=node, error="not found")
                return "fail"
            self.h.ok(self.proc, "pop-delete", {"user": user, "tokens": tokens}, node=node)
            return "ok"
        except ERRORS as e:
            (self.h.info if quitting else self.h.fail)(self.proc, "pop-delete", {"user": user, "tokens": tokens},
                                                       node=node, error=short_error(e))
            return "info" if quitting else "fail"

    def probe(self, host, port, user, password, target: str = "") -> bool:
        self.h.invoke(self.proc, "probe", {"proto": "pop3", "target": target or f"{host}:{port}"})
        node = None
        try:
            p, node = self._login(host, port, user, password)
            p.stat()
            p.quit()
            self.h.ok(self.proc, "probe", {"proto": "pop3"}, node=node)
            return True
        except ERRORS as e:
            self.h.fail(self.proc, "probe", {"proto": "pop3"}, node=node, error=short_error(e))
            return False
