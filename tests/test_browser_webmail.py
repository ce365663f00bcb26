"""The webmail journey in a real browser (harness/clients/browser_webmail.py), no cluster needed:
its pure parts (the request filter, the one-sentence error naming the step, the answer's shape),
and the journey itself in Debian's headless Chromium against a small local stand-in for Roundcube
(the same element ids: login form, message list filled in after the page loaded, the message
opened by a double click) — a login, a refused login, a message that is not there, an error page,
a request to another host refused — and what ``judgements.webmail_in_browser`` records under the
``webmail`` claim for each outcome of the journey (with the journey and SMTP replaced by fakes).

The browser tests are skipped without chromium or the playwright package, with the reason; under
CI (CI=true) they fail instead, since scripts/setup installs both.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.clients import browser_webmail as bw
TOKEN = "mh-abc123x0-browser"
STRANGER = "http://198.51.100.7/track.png"   # TEST-NET-2: never reached, the route refuses it


# -- pure -----------------------------------------------------------------------------------------
def test_only_the_webmails_own_origin_and_inline_uris_are_allowed():
    allow = bw.allowed("http://10.231.0.200/")
    assert allow("http://10.231.0.200/?_task=mail") and allow("http://10.231.0.200:80/skins/x.css")
    assert allow("data:image/png;base64,AAAA") and allow("blob:http://10.231.0.200/1234")
    assert not allow("http://10.231.0.201/") and not allow("https://10.231.0.200/")
    assert not allow("http://10.231.0.200:8080/") and not allow("https://fonts.example/x.woff")
    assert bw.allowed("http://127.0.0.1:8081")("http://127.0.0.1:8081/a") and not bw.allowed("http://127.0.0.1:8081")("http://127.0.0.1/")


def test_the_error_is_one_sentence_naming_the_step_where_and_for_whom():
    e = bw.step_error("inbox", "not among the 3 rows\n of the inbox list.", base_url="http://10.231.0.200/",
                      user="user1@example.test", subject=TOKEN)
    assert e == ("the browser could not see the message 'mh-abc123x0-browser' in the inbox list (inbox step) at "
                 "http://10.231.0.200/ as user1@example.test: not among the 3 rows of the inbox list.")
    e = bw.step_error("login", "the login page said 'Login failed.'", base_url="http://h/", user="u", subject=TOKEN)
    assert e.startswith("the browser could not log in (login step) at http://h/ as u:") and e.count(".'") == 1
    with pytest.raises(ValueError, match="known: login, inbox, open"):
        bw.step_error("logout", "x", base_url="http://h/", user="u", subject=TOKEN)


def test_the_answer_names_every_step_timing_and_a_failure_sets_step_and_sentence():
    r = bw.new_result("http://h/", "u", TOKEN)
    assert {k for k in r if k.endswith("_s")} == {"login_s", "inbox_s", "open_s", "launch_s", "total_s"}
    assert r["ok"] is False and r["failed_step"] is None and r["error"] is None and r["blocked"] == []
    bw.fail(r, "open", "the message body does not show it")
    assert r["failed_step"] == "open" and "(open step)" in r["error"] and r["ok"] is False


def test_a_browser_time_out_reads_as_what_was_waited_for():
    TimeoutError_ = type("TimeoutError", (Exception,), {})
    assert bw.short(TimeoutError_("Timeout 3000ms exceeded.\n=== logs ===\n..."), 3.04) == "nothing within 3.0 s"
    assert bw.short(RuntimeError("net::ERR_CONNECTION_REFUSED at http://h/\nCall log: ...")) == \
        "net::ERR_CONNECTION_REFUSED at http://h/"


# -- a stand-in for Roundcube -------------------------------------------------------------------------
LOGIN = f"""<!doctype html><title>mailha webmail :: Welcome</title><img src="{STRANGER}">
{{error}}<form method="post" action="/?_task=login"><input id="rcmloginuser" name="_user">
<input id="rcmloginpwd" name="_pass" type="password"><button id="rcmloginsubmit" type="submit">Login</button></form>"""
MAIL = """<!doctype html><title>mailha webmail :: Inbox</title><table id="messagelist"><tbody></tbody></table>
<script>setTimeout(() => { document.querySelector('#messagelist tbody').innerHTML =
  '<tr id="rcmrow1"><td>someone else</td></tr>' +
  '<tr id="rcmrow2" ondblclick="location=\\'/?_task=mail&_action=show&_uid=2\\'"><td>mailha %s</td></tr>'; }, 150);</script>"""
SHOW = """<!doctype html><title>mailha webmail :: mailha %s</title><div id="messagebody">
<div class="pre">mailha test message %s, line 0.</div></div>"""


class FakeRoundcube(BaseHTTPRequestHandler):
    subject = TOKEN

    def log_message(self, *a):
        pass

    def _page(self, html: str, status: int = 200, headers=()):
        data = html.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("X-Served-By", "webmail1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/down/"):
            return self._page("<h1>503 Service Unavailable</h1>", 503)
        q = parse_qs(urlsplit(self.path).query)
        if q.get("_task") == ["mail"] and q.get("_action") == ["show"]:
            return self._page(SHOW % (self.subject, self.subject))
        if q.get("_task") == ["mail"]:
            return self._page(MAIL % self.subject)
        return self._page(LOGIN.format(error=""))

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        if form.get("_pass") == ["pw-user1"]:
            return self._page("", 302, [("Location", "/?_task=mail&_mbox=INBOX")])
        return self._page(LOGIN.format(error='<div id="messagestack"><div class="error">Login failed.</div></div>'))



@pytest.fixture(scope="module")
def webmail():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeRoundcube)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


def test_the_journey_logs_in_sees_the_message_opens_it_and_keeps_a_screenshot(chromium, webmail, tmp_path):
    shot = tmp_path / "shots" / "webmail.png"
    j = bw.webmail_journey(webmail, "user1@example.test", "pw-user1", TOKEN, screenshot=shot, timeout_s=20)
    assert j["ok"], j["error"]
    assert j["failed_step"] is None and j["error"] is None
    assert all(isinstance(j[f"{s}_s"], float) and j[f"{s}_s"] >= 0 for s in bw.STEPS)
    assert TOKEN in j["seen"]["row"] and f"mailha test message {TOKEN}" in j["seen"]["body"]
    # the list is empty when the page has loaded and filled in later: the journey waited for it
    assert "_action=show" in j["seen"]["url_of_message"] and j["seen"]["rows"] == 2
    assert j["seen"]["served_by"] == ["webmail1"]  # every page from one server: named once
    assert j["blocked"] == [STRANGER] and all(u.startswith(webmail) or u == STRANGER for u in j["requests"])
    assert j["screenshot"] == str(shot) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_refused_login_names_the_login_step_with_what_the_page_said(chromium, webmail, tmp_path):
    j = bw.webmail_journey(webmail, "user1@example.test", "wrong", TOKEN, screenshot=tmp_path / "s.png", timeout_s=20)
    assert not j["ok"] and j["failed_step"] == "login" and j["login_s"] is None
    assert "(login step)" in j["error"] and "Login failed." in j["error"]
    assert (tmp_path / "s.png").exists()  # the page where it stopped is kept too


def test_a_message_not_in_the_inbox_names_the_inbox_step(chromium, webmail, tmp_path):
    j = bw.webmail_journey(webmail, "user1@example.test", "pw-user1", "mh-not-there", screenshot=tmp_path / "s.png",
                           timeout_s=6)
    assert not j["ok"] and j["failed_step"] == "inbox" and isinstance(j["login_s"], float) and j["open_s"] is None
    assert "not among the 2 rows of the inbox list" in j["error"] and "'mh-not-there'" in j["error"]


def test_a_webmail_that_answers_an_error_page_fails_at_once_at_the_login_step(chromium, webmail, tmp_path):
    j = bw.webmail_journey(webmail + "down/", "user1@example.test", "pw-user1", TOKEN, screenshot=tmp_path / "s.png",
                           timeout_s=20)
    assert not j["ok"] and j["failed_step"] == "login" and "the login page answered HTTP 503" in j["error"]
    assert j["total_s"] < 10  # said at once, not after the whole budget


# -- without a browser --------------------------------------------------------------------------------
def test_without_a_browser_the_journey_raises_the_one_sentence_why(monkeypatch, tmp_path):
    monkeypatch.setenv("MAILHA_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(RuntimeError, match=r"^MAILHA_CHROMIUM=.*no-chromium is not an executable$"):
        bw.webmail_journey("http://127.0.0.1:9/", "u", "p", TOKEN, screenshot=tmp_path / "s.png")


def test_the_design_suites_skip_without_a_browser_saying_why_but_fail_under_ci(monkeypatch):
    from suites import webmail_browser as wb

    monkeypatch.setattr(wb, "unavailable", lambda: "no chromium binary on PATH (scripts/setup installs Debian's)")
    monkeypatch.delenv("CI", raising=False)
    mark = wb.needs_browser()
    assert mark.args == (True,) and mark.kwargs["reason"] == (
        "no browser for the webmail journey: no chromium binary on PATH (scripts/setup installs Debian's).")
    with pytest.raises(pytest.skip.Exception, match="no browser for the webmail journey: no chromium"):
        wb.in_browser(cert=None)
    monkeypatch.setenv("CI", "true")
    assert wb.needs_browser().args == (False,)  # under CI the test runs ...
    with pytest.raises(pytest.fail.Exception, match="no browser for the webmail journey: no chromium"):
        wb.in_browser(cert=None)                # ... and fails, saying why


# -- the judgement: what is recorded under ``webmail`` -------------------------------------------------
class FakeTopo:
    node_names = ["mirror-a", "mirror-b"]

    def users(self):
        return {"user1@example.test": "pw-user1", "user2@example.test": "pw-user2"}

    def data_nodes(self):
        return []

    def endpoint(self, proto):
        return "10.231.0.200", {"smtp": 25, "imap": 143, "http": 80}[proto]

    def has_endpoint(self, proto):
        return True


class FakeCert:
    design, variant = "mirror", None

    def __init__(self, run_path):
        from harness.history import History
        self.h = History()
        self.s = type("S", (), {"run": type("R", (), {"path": run_path})()})()
        self.claims = {}

    def claim(self, claim, measured, *, numbers=None, reasons=None, checks=None):
        self.claims[claim] = {"measured": measured, "numbers": numbers or {}, "reasons": reasons or []}


def judged(monkeypatch, tmp_path, *, sent="ok", late=None, journey=None):
    from harness import judgements
    from harness.clients import smtp

    class Smtp:
        def __init__(self, *a):
            pass

        def send(self, host, port, token, to):
            return sent
    asked = {}

    def fake_journey(base_url, user, password, subject, *, screenshot, timeout_s):
        asked.update(base_url=base_url, user=user, subject=subject, screenshot=screenshot)
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot).write_bytes(b"\x89PNG")
        return {**bw.new_result(base_url, user, subject), "launch_s": 1.2, "total_s": 4.0, "screenshot": str(screenshot),
                "seen": {"served_by": ["mirror-a"]}, **(journey or {})}
    monkeypatch.setattr(smtp, "SmtpClient", Smtp)
    monkeypatch.setattr(judgements, "_not_delivered", lambda *a: late)
    monkeypatch.setattr(bw, "webmail_journey", fake_journey)
    cert = FakeCert(tmp_path)
    sc = type("Sc", (), {"topo": FakeTopo(), "tag": "abc1x0"})()
    return judgements.webmail_in_browser(cert, sc), cert, asked


def test_a_journey_that_completed_is_recorded_yes_with_its_timings_and_screenshot(monkeypatch, tmp_path):
    j, cert, asked = judged(monkeypatch, tmp_path, journey={"ok": True, "login_s": 1.9, "inbox_s": 0.08, "open_s": 0.6})
    assert asked["base_url"] == "http://10.231.0.200:80/" and asked["user"] == "user1@example.test"
    assert asked["subject"] == "mh-abc1x0-browser" and asked["screenshot"] == tmp_path / "screenshots" / "webmail-mirror.png"
    c = cert.claims["webmail"]
    assert c["measured"] == "Yes" and c["reasons"] == []
    n = c["numbers"]
    assert n["browser_login_s"] == {"value": 1.9, "unit": "s", "threshold": None, "op": "<="}
    assert n["browser_inbox_s"]["value"] == 0.08 and n["browser_open_s"]["value"] == 0.6
    assert n["browser_start_s"]["value"] == 1.2 and n["browser_blocked_requests"]["value"] == 0
    assert n["browser_screenshot"]["value"] == "screenshots/webmail-mirror.png"
    ops = [(e.type, e.f, e.node) for e in cert.h.snapshot() if e.proc == "browser-webmail"]
    assert ops == [("invoke", "browser-journey", None), ("ok", "browser-journey", "mirror-a")]


def test_a_step_that_failed_is_recorded_no_with_its_sentence(monkeypatch, tmp_path):
    err = bw.step_error("open", "nothing within 25.0 s", base_url="http://10.231.0.200:80/", user="user1@example.test",
                        subject="mh-abc1x0-browser")
    j, cert, _ = judged(monkeypatch, tmp_path, journey={"ok": False, "login_s": 1.9, "inbox_s": 0.1,
                                                          "failed_step": "open", "error": err})
    c = cert.claims["webmail"]
    assert c["measured"] == "No" and c["reasons"] == [err] and c["numbers"]["browser_open_s"]["value"] is None
    assert [e.error for e in cert.h.snapshot() if e.type == "fail"] == [err]


def test_mail_not_accepted_or_not_delivered_is_unknown_and_the_browser_not_tried(monkeypatch, tmp_path):
    j, cert, asked = judged(monkeypatch, tmp_path, sent="fail")
    assert j == {} and asked == {} and cert.claims["webmail"]["measured"] == "unknown"
    assert "not accepted by SMTP at 10.231.0.200:25" in cert.claims["webmail"]["reasons"][0]
    j, cert, asked = judged(monkeypatch, tmp_path, late="mh-abc1x0-browser for user1@example.test not delivered: …")
    assert j == {} and asked == {} and cert.claims["webmail"]["measured"] == "unknown"
    assert cert.claims["webmail"]["reasons"] == ["browser: not tried (mh-abc1x0-browser for user1@example.test not "
                                                 "delivered: …)"]
