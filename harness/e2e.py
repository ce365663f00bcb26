"""End-to-end round trip through the client endpoints: a message sent with SMTP is read back
with IMAP, POP3 and webmail. "The service works in this design" means this round trip works."""
from __future__ import annotations

import time

from .clients.imap import ImapClient
from .clients.pop3 import Pop3Client
from .clients.smtp import SmtpClient
from .clients.webmail import WebmailClient
from .errors import WaitTimeout
from .history import History
from .wait import Not, describe, until

PROTO_CLAIM = {"smtp": "smtp", "imap": "imap", "pop3": "pop", "http": "webmail"}


def roundtrip(topo, history: History, token: str, *, user: str | None = None, timeout: float = 15.0) -> dict:
    """{proto: {"ok": bool, "node": str|None, "seconds": float, "error": str|None}} for each endpoint."""
    users = topo.users()
    user = user or sorted(users)[0]
    pw = users[user]
    nodes = topo.node_names
    out: dict[str, dict] = {}
    t0 = time.monotonic()
    host, port = topo.mx()[0] if topo.meta.get("mx") else topo.endpoint("smtp")
    r = SmtpClient(history, "e2e-smtp", nodes, 10).send(host, port, token, user)
    last = next(e for e in reversed(history.snapshot()) if e.proc == "e2e-smtp")
    out["smtp"] = {"ok": r == "ok", "node": last.node, "seconds": round(time.monotonic() - t0, 3), "error": last.error}
    if r != "ok":
        return out

    def visible(fn, check, proto):
        return wait_visible(fn, check, f"{token} to be visible over {proto}", timeout)

    if topo.has_endpoint("imap"):
        h, p = topo.endpoint("imap")
        c = ImapClient(history, "e2e-imap", nodes, 10)
        ok, secs, err = visible(lambda: c.read(h, p, user, pw), lambda r: any(m["token"] == token for m in r["messages"]),
                               "imap")
        out["imap"] = {"ok": ok, "seconds": secs, "error": err, "node": _last_node(history, "e2e-imap")}
    if topo.has_endpoint("pop3"):
        h, p = topo.endpoint("pop3")
        c = Pop3Client(history, "e2e-pop3", nodes, 10)
        ok, secs, err = visible(lambda: c.read(h, p, user, pw), lambda toks: token in toks, "pop3")
        out["pop3"] = {"ok": ok, "seconds": secs, "error": err, "node": _last_node(history, "e2e-pop3")}
    if topo.has_endpoint("http"):
        h, p = topo.endpoint("http")
        c = WebmailClient(history, "e2e-http", nodes, 10)
        ok, secs, err = visible(lambda: c.list(f"http://{h}:{p}", user, pw), lambda r: token in r["tokens"], "http")
        out["http"] = {"ok": ok, "seconds": secs, "error": err, "node": _last_node(history, "e2e-http")}
    return out


def wait_visible(fn, check, what: str, timeout: float) -> tuple[bool, float, str | None]:
    """(seen, seconds, last error): repeat ``fn()`` (None when the operation failed) every 0.3 s
    until ``check`` holds on its answer, for at most ``timeout`` seconds."""
    t = time.monotonic()

    def seen():
        res = fn()
        return True if res is not None and check(res) else Not("not visible" if res is not None else "operation failed")
    try:
        until(seen, timeout=timeout, interval=0.3, what=what, errors=())
    except WaitTimeout as e:
        return False, round(time.monotonic() - t, 3), describe(e.last)
    return True, round(time.monotonic() - t, 3), None


def _last_node(history: History, proc: str):
    for e in reversed(history.snapshot()):
        if e.proc == proc and e.type != "invoke":
            return e.node
    return None
