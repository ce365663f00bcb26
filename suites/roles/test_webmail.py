"""Smoke test of the webmail role image (Roundcube + nginx + php-fpm), started alone: it serves
the real Roundcube login page (through php-fpm), names itself, and reports a failed IMAP login
as a refused login rather than an error page."""
from __future__ import annotations

import pytest
import requests

from harness.clients.webmail import WebmailError, WebmailSession
from harness.containers import role_container


def test_webmail_serves_roundcube_and_refuses_a_login_without_imap():
    # ready: the login page itself (HTTP 200 with Roundcube's login form)
    with role_container("webmail", env={"WEBMAIL_IMAP_HOST": "127.0.0.1:143"}, timeout=30) as c:
        print(f"webmail image: login page after {c.ready_s:.1f} s")
        r = requests.get(f"http://{c.ip}/", timeout=5)
        assert r.status_code == 200, f"no login page: {r.status_code}"
        assert 'id="rcmloginuser"' in r.text and "mailha webmail" in r.text
        assert r.headers.get("X-Served-By") == "webmail"
        ws = WebmailSession(f"http://{c.ip}")
        with pytest.raises(WebmailError, match="login refused"):
            ws.login("user1@example.test", "pw-user1")  # no IMAP server behind it
