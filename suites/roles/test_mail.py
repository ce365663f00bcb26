"""Smoke test of the mail role image (Postfix 3.7 + Dovecot 2.3 + Roundcube), started alone with
the mirror's configuration and no peer: a message sent with SMTP is read back with IMAP, POP3
and webmail, and a killed Dovecot comes back with the image's own control command."""
from __future__ import annotations

import time

from harness import ROOT, readiness
from harness.clients.imap import Imap
from harness.clients.pop3 import Pop3Client
from harness.clients.smtp import SmtpClient
from harness.clients.webmail import WebmailSession
from harness.containers import role_container
from harness.history import History
from harness.wait import until

USER, PW = "user1@example.test", "pw-user1"
CONF = [f"{ROOT / 'compose' / 'mirror'}:/conf:ro"]
# ready: the node's own SMTP greeting and an IMAP greeting (no login before PROVISION has created
# the mailboxes: two first logins creating one INBOX can make Dovecot 2.3 panic)
READY = ({"proto": "smtp", "expect": "solo-mail"}, {"proto": "imap"})


def test_mail_node_alone_delivers_and_serves_every_protocol():
    env = {"NODE_NAME": "solo-mail", "WEBMAIL": "yes", "PROVISION": "INBOX Archive Trash"}
    with role_container("mail", env=env, volumes=CONF, ready=READY) as c:
        greet = c.answers[0]
        assert "solo-mail" in greet, greet
        print(f"mail image: SMTP and IMAP ready {c.ready_s:.1f} s after start")
        h = History()
        assert SmtpClient(h, "smtp", ["solo-mail"]).send(c.ip, 25, "mh-solo-1", USER) == "ok", h.events[-1].error

        def delivered():
            with Imap(c.ip, 143, USER, PW, ["solo-mail"]) as imap:
                assert imap.node == "solo-mail"
                toks = [m["token"] for m in imap.read("INBOX")["messages"]]
                assert "mh-solo-1" in toks, toks
                return toks
        until(delivered, timeout=20, what="mh-solo-1 to be read back with IMAP", container=c.name)
        assert "mh-solo-1" in (Pop3Client(h, "pop", ["solo-mail"]).read(c.ip, 110, USER, PW) or [])
        # nginx and php-fpm start after the mail daemons: wait for the login page itself
        c.wait_ready([{"proto": "http", "path": "/", "expect": "rcmloginuser"}], timeout=30)
        ws = WebmailSession(f"http://{c.ip}", nodes=["solo-mail"])
        ws.login(USER, PW)
        assert "mh-solo-1" in ws.list_inbox()["tokens"]
        assert ws.node == "mail"  # nginx names the container's hostname (the role)


def test_killed_dovecot_is_detected_and_restarted_by_the_image_control_command():
    with role_container("mail", env={"NODE_NAME": "solo-mail"}, volumes=CONF) as c:  # SMTP + IMAP answer
        r = c.exec("mail-ctl kill dovecot")
        assert r.ok, (r.rc, r.out, r.err)
        time.sleep(0.5)
        assert not c.exec("mail-ctl status dovecot").ok, "dovecot still reported running after kill"
        try:
            readiness.imap(c.ip, timeout=1)
            raise AssertionError("IMAP still answers with Dovecot killed")
        except (OSError, ConnectionError):
            pass
        r = c.exec("mail-ctl start dovecot")
        assert r.ok, r.err
        c.wait_ready([{"proto": "imap", "user": USER, "password": PW}], timeout=20)
