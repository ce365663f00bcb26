"""IMAP client (imapclient): reads with UIDs, tokens and flags; flag, expunge and move."""
from __future__ import annotations

import socket

import imapclient
from imapclient.exceptions import IMAPClientError

from ..history import History
from . import identify, short_error
from .message import token_of

HEADER_ITEM = b"BODY[HEADER.FIELDS (X-MAILHA-TOKEN MESSAGE-ID)]"
FETCH = ["UID", "FLAGS", "BODY.PEEK[HEADER.FIELDS (X-MAILHA-TOKEN MESSAGE-ID)]"]
ERRORS = (IMAPClientError, OSError, socket.timeout, EOFError)


def _flags(fl) -> list[str]:
    return sorted(f.decode() if isinstance(f, bytes) else str(f) for f in fl if f not in (b"\\Recent", "\\Recent"))


class Imap:
    """A logged-in IMAP connection (context manager); ``node`` is who greeted us."""

    def __init__(self, host: str, port: int, user: str, password: str, nodes=(), timeout: float = 10.0):
        self.c = imapclient.IMAPClient(host, port=port, ssl=False, timeout=timeout)
        self.node = identify(self.c.welcome.decode(errors="replace") if isinstance(self.c.welcome, bytes)
                             else str(self.c.welcome), nodes)
        self.c.login(user, password)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.c.logout()
        except ERRORS:
            try:
                self.c.shutdown()
            except ERRORS:
                pass

    def mailboxes(self) -> list[str]:
        return sorted(name for _flags_, _sep, name in self.c.list_folders())

    def read(self, mailbox: str = "INBOX") -> dict:
        """{uidvalidity, messages: [{uid, token, flags}]} sorted by uid; readonly, so no flag changes."""
        info = self.c.select_folder(mailbox, readonly=True)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        msgs = []
        uids = self.c.search("ALL") if int(info.get(b"EXISTS", 0)) else []
        if uids:
            data = self.c.fetch(uids, FETCH)
            for uid, d in data.items():  # imapclient keys the result by UID
                hdr = d.get(HEADER_ITEM) or next((v for k, v in d.items() if k.startswith(b"BODY[HEADER")), b"")
                msgs.append({"uid": int(uid), "token": token_of(hdr), "flags": _flags(d.get(b"FLAGS", ()))})
        self.c.unselect_folder() if hasattr(self.c, "unselect_folder") else self.c.close_folder()
        msgs.sort(key=lambda m: m["uid"])
        return {"uidvalidity": uidvalidity, "messages": msgs}

    def uids_for(self, mailbox: str, tokens: list[str]) -> dict[str, int]:
        self.c.select_folder(mailbox)
        out = {}
        for t in tokens:
            found = self.c.search(["HEADER", "X-Mailha-Token", t])
            if found:
                out[t] = int(found[0])
        return out


class ImapClient:
    """History-recording IMAP operations for one logical process."""

    def __init__(self, history: History, proc: str, nodes=(), timeout: float = 10.0):
        self.h = history
        self.proc = proc
        self.nodes = tuple(nodes)
        self.timeout = timeout

    def _connect(self, host, port, user, password) -> Imap:
        return Imap(host, port, user, password, self.nodes, self.timeout)

    def read(self, host: str, port: int, user: str, password: str, mailbox: str = "INBOX") -> dict | None:
        self.h.invoke(self.proc, "read", {"user": user, "mailbox": mailbox})
        node = None
        try:
            with self._connect(host, port, user, password) as c:
                node = c.node
                r = c.read(mailbox)
            self.h.ok(self.proc, "read", {"user": user, "mailbox": mailbox, **r}, node=node)
            return r
        except ERRORS as e:
            self.h.fail(self.proc, "read", {"user": user, "mailbox": mailbox}, node=node, error=short_error(e))
            return None

    def _modify(self, f: str, value: dict, host, port, user, password, action) -> str:
        """Run a state change; an error after the command was sent is ``info`` (unknown)."""
        self.h.invoke(self.proc, f, value)
        node = None
        sent = False
        try:
            with self._connect(host, port, user, password) as c:
                node = c.node
                uids = c.uids_for(value["mailbox"], value.get("tokens") or [value["token"]])
                if not uids:
                    self.h.fail(self.proc, f, value, node=node, error="message not found")
                    return "fail"
                sent = True
                action(c.c, list(uids.values()))
            self.h.ok(self.proc, f, {**value, "uids": sorted(uids.values())}, node=node)
            return "ok"
        except ERRORS as e:
            (self.h.info if sent else self.h.fail)(self.proc, f, value, node=node, error=short_error(e))
            return "info" if sent else "fail"

    def flag(self, host, port, user, password, token: str, flag: str = "\\Seen", mailbox: str = "INBOX") -> str:
        return self._modify("flag", {"user": user, "mailbox": mailbox, "token": token, "flag": flag, "set": True},
                            host, port, user, password, lambda c, uids: c.add_flags(uids, [flag]))

    def expunge(self, host, port, user, password, tokens: list[str], mailbox: str = "INBOX") -> str:
        def act(c, uids):
            c.delete_messages(uids)
            c.uid_expunge(uids) if c.has_capability("UIDPLUS") else c.expunge()
        return self._modify("expunge", {"user": user, "mailbox": mailbox, "tokens": tokens},
                            host, port, user, password, act)

    def move(self, host, port, user, password, tokens: list[str], to: str, mailbox: str = "INBOX") -> str:
        return self._modify("move", {"user": user, "mailbox": mailbox, "to": to, "tokens": tokens},
                            host, port, user, password, lambda c, uids: c.move(uids, to))

    def probe(self, host: str, port: int, user: str, password: str, target: str = "") -> bool:
        """Availability probe: new connection, greeting, LOGIN, NOOP, LOGOUT."""
        self.h.invoke(self.proc, "probe", {"proto": "imap", "target": target or f"{host}:{port}"})
        node = None
        try:
            with self._connect(host, port, user, password) as c:
                node = c.node
                c.c.noop()
            self.h.ok(self.proc, "probe", {"proto": "imap"}, node=node)
            return True
        except ERRORS as e:
            self.h.fail(self.proc, "probe", {"proto": "imap"}, node=node, error=short_error(e))
            return False


def read_all(host: str, port: int, users: dict[str, str], nodes=(), timeout: float = 20.0,
             mailboxes: list[str] | None = None) -> tuple[str | None, dict]:
    """Read every mailbox of every user (a replica's full state): (node, {user: {mailbox: read}})."""
    out: dict = {}
    node = None
    for user, pw in users.items():
        with Imap(host, port, user, pw, nodes, timeout) as c:
            node = node or c.node
            boxes = mailboxes or c.mailboxes()
            out[user] = {mb: c.read(mb) for mb in boxes}
    return node, out
