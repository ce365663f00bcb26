"""The SMTP availability probe against a tiny scripted SMTP server (no Docker): by default a
greeting and EHLO are enough; with ``envelope`` it must also be allowed to start a transaction,
so a relay that greets but refuses every message (Postfix with its content filter gone and
``milter_default_action = tempfail``) is a failed probe, with the server's reply as its error."""
import socket
import threading

import pytest

from harness.clients.smtp import SmtpClient
from harness.history import History


class Relay:
    """Answers like Postfix; ``mail_reply`` is what it says to MAIL FROM."""

    def __init__(self, mail_reply: bytes = b"250 2.1.0 Ok"):
        self.mail_reply = mail_reply
        self.seen: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as r:
                conn.sendall(b"220 ecm1 ESMTP Postfix\r\n")
                for line in r:
                    cmd = line.strip().upper()
                    self.seen.append(cmd.split(b":")[0].split(b" ")[0])
                    if cmd.startswith(b"EHLO"):
                        conn.sendall(b"250-ecm1\r\n250 8BITMIME\r\n")
                    elif cmd.startswith(b"MAIL"):
                        conn.sendall(self.mail_reply + b"\r\n")
                    elif cmd.startswith(b"QUIT"):
                        conn.sendall(b"221 2.0.0 Bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 2.0.0 Ok\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def relay(request):
    r = Relay(getattr(request, "param", b"250 2.1.0 Ok"))
    yield r
    r.close()


def probe(relay, envelope=None):
    h = History()
    ok = SmtpClient(h, "probe-smtp-0", nodes=("ecm1", "ecm2"), timeout=2).probe("127.0.0.1", relay.port, "vip",
                                                                                  envelope=envelope)
    done = [e for e in h.events if e.type in ("ok", "fail")][-1]
    return ok, done


def test_a_greeting_probe_stops_at_noop(relay):
    ok, done = probe(relay)
    assert ok and done.node == "ecm1"
    assert b"MAIL" not in relay.seen and b"NOOP" in relay.seen


def test_an_envelope_probe_starts_a_transaction_and_resets_it(relay):
    ok, _ = probe(relay, envelope="probe@example.test")
    assert ok
    assert relay.seen[:5] == [b"EHLO", b"MAIL", b"RCPT", b"RSET", b"QUIT"]


@pytest.mark.parametrize("relay", [b"451 4.7.1 Service unavailable - try again later"], indirect=True)
def test_a_relay_that_greets_but_refuses_every_transaction_fails_only_the_envelope_probe(relay):
    assert probe(relay)[0]  # the greeting probe cannot see it
    ok, done = probe(relay, envelope="probe@example.test")
    assert not ok and "451" in done.error and done.node == "ecm1"
