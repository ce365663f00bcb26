"""Roundcube webmail over HTTP: login with its CSRF token, list the inbox, probe the login page.

The node is taken from nginx's ``X-Served-By`` header (the container's hostname).
"""
from __future__ import annotations

import re

import requests

from ..history import History
from . import identify, short_error
from .message import TOKEN_RE

TOKEN = re.compile(r'name="_token" value="([^"]+)"')
REQUEST_TOKEN = re.compile(r'"request_token":"([^"]+)"')
ROW = re.compile(r"add_message_row\((\d+),")


class WebmailError(Exception):
    pass


class WebmailSession:
    """A logged-in Roundcube session (cookies + request token)."""

    def __init__(self, base: str, timeout: float = 10.0, nodes=()):
        self.base = base.rstrip("/")
        self.s = requests.Session()
        self.timeout = timeout
        self.nodes = tuple(nodes)
        self.node = None
        self.request_token = None

    def _node(self, r) -> str | None:
        return identify(r.headers.get("X-Served-By", ""), self.nodes) or r.headers.get("X-Served-By")

    def login(self, user: str, password: str) -> None:
        r = self.s.get(self.base + "/", timeout=self.timeout)
        self.node = self._node(r)
        m = TOKEN.search(r.text)
        if not m:
            raise WebmailError(f"no login form (HTTP {r.status_code})")
        r = self.s.post(self.base + "/?_task=login", timeout=self.timeout, allow_redirects=False, data={
            "_token": m.group(1), "_task": "login", "_action": "login", "_timezone": "UTC", "_url": "",
            "_user": user, "_pass": password})
        if r.status_code != 302 or "_task=mail" not in r.headers.get("Location", ""):
            raise WebmailError(f"login refused (HTTP {r.status_code})")
        r = self.s.get(self.base + "/?_task=mail&_mbox=INBOX", timeout=self.timeout)
        m = REQUEST_TOKEN.search(r.text)
        if not m:
            raise WebmailError("no request token after login")
        self.request_token = m.group(1)
        self.node = self._node(r)

    def list_inbox(self) -> dict:
        r = self.s.get(self.base + "/?_task=mail&_action=list&_mbox=INBOX&_remote=1&_page=1", timeout=self.timeout,
                       headers={"X-Roundcube-Request": self.request_token or "", "X-Requested-With": "XMLHttpRequest"})
        self.node = self._node(r)
        if r.status_code != 200:
            raise WebmailError(f"inbox list HTTP {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise WebmailError("inbox list is not JSON (session lost?)") from None
        if data.get("action") != "list" or "add_message_row" not in data.get("exec", "") and "message_list" not in data.get("exec", ""):
            if "session" in str(data).lower() or data.get("action") == "login":
                raise WebmailError("session lost")
        exec_ = data.get("exec", "")
        return {"uids": [int(x) for x in ROW.findall(exec_)], "tokens": sorted(set(TOKEN_RE.findall(exec_)))}


class WebmailClient:
    def __init__(self, history: History, proc: str, nodes=(), timeout: float = 10.0):
        self.h = history
        self.proc = proc
        self.nodes = tuple(nodes)
        self.timeout = timeout

    def list(self, base: str, user: str, password: str) -> dict | None:
        """Log in and list the inbox (one operation)."""
        self.h.invoke(self.proc, "webmail-list", {"user": user})
        ws = WebmailSession(base, self.timeout, self.nodes)
        try:
            ws.login(user, password)
            r = ws.list_inbox()
            self.h.ok(self.proc, "webmail-list", {"user": user, **r}, node=ws.node)
            return r
        except (requests.RequestException, WebmailError) as e:
            self.h.fail(self.proc, "webmail-list", {"user": user}, node=ws.node, error=short_error(e))
            return None

    def probe(self, base: str, target: str = "") -> bool:
        """Availability probe: the login page is served (through nginx and php-fpm)."""
        self.h.invoke(self.proc, "probe", {"proto": "http", "target": target or base})
        node = None
        try:
            r = requests.get(base.rstrip("/") + "/", timeout=self.timeout)
            node = identify(r.headers.get("X-Served-By", ""), self.nodes) or r.headers.get("X-Served-By")
            if r.status_code != 200 or "rcmloginuser" not in r.text:
                raise WebmailError(f"HTTP {r.status_code} without a login form")
            self.h.ok(self.proc, "probe", {"proto": "http"}, node=node)
            return True
        except (requests.RequestException, WebmailError) as e:
            self.h.fail(self.proc, "probe", {"proto": "http"}, node=node, error=short_error(e))
            return False
