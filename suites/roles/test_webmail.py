"""Smoke test of the webmail role image (Roundcube + nginx + php-fpm), started alone: it serves
the real Roundcube login page (through php-fpm), names itself, and reports a failed IMAP login
as a refused login rather than an error page."""
from __future__ import annotations

import time

import pytest
import requests

from harness.clients.webmail import WebmailError, WebmailSession
from harness.solo import solo


def test_webmail_serves_roundcube_and_refuses_a_login_without_imap():
    with solo("webmail", env={"WEBMAIL_IMAP_HOST": "127.0.0.1:143"}) as c:
        t0, r = time.monotonic(), None
        while time.monotonic() - t0 < 30:
            try:
                r = requests.get(f"http://{c.ip}/", timeout=2)
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        assert r is not None and r.status_code == 200, f"no login page: {r and r.status_code}"
        print(f"webmail image: login page after {time.monotonic() - t0:.1f} s")
        assert 'id="rcmloginuser"' in r.text and "mailha webmail" in r.text
        assert r.headers.get("X-Served-By") == "webmail"
        ws = WebmailSession(f"http://{c.ip}")
        with pytest.raises(WebmailError, match="login refused"):
            ws.login("user1@example.test", "pw-user1")  # no IMAP server behind it
