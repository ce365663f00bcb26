"""SMTP client: one message per connection, with an exact outcome.

``ok`` = the server answered 250 to the end of DATA (it accepted the message). ``fail`` = a
definite refusal before that (connection refused, 4xx/5xx to MAIL/RCPT/DATA, or a 4xx/5xx to
the end of DATA). ``info`` = the connection broke after the message was sent and before the
reply: the message may or may not have been accepted.
"""
from __future__ import annotations

import smtplib
import socket

from ..history import History
from . import identify, short_error
from .message import build


class SmtpClient:
    def __init__(self, history: History, proc: str, nodes=(), timeout: float = 10.0):
        self.h = history
        self.proc = proc
        self.nodes = tuple(nodes)
        self.timeout = timeout

    def send(self, host: str, port: int, token: str, to: str, sender: str = "sender@mailha.test") -> str:
        """Send one message; returns the completion type (ok / fail / info)."""
        via = f"{host}:{port}"
        self.h.invoke(self.proc, "send", {"token": token, "to": to, "via": via})
        node = None
        sent_data = False
        try:
            s = smtplib.SMTP(timeout=self.timeout)
            code, banner = s.connect(host, port)
            node = identify(f"{code} {banner.decode(errors='replace')}", self.nodes)
            if code != 220:
                raise smtplib.SMTPConnectError(code, banner)
            try:
                s.ehlo("mailha.test")
                code, msg = s.mail(sender)
                if code != 250:
                    raise smtplib.SMTPSenderRefused(code, msg, sender)
                code, msg = s.rcpt(to)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({to: (code, msg)})
                code, msg = s.docmd("DATA")
                if code != 354:
                    raise smtplib.SMTPDataError(code, msg)
                sent_data = True
                s.send(build(token, to, sender) + b".\r\n")
                code, msg = s.getreply()
                if code != 250:
                    self.h.fail(self.proc, "send", {"token": token, "to": to, "reply": f"{code} {msg.decode(errors='replace')}"},
                                node=node, error=f"{code} {msg.decode(errors='replace')[:120]}")
                    return "fail"
                self.h.ok(self.proc, "send", {"token": token, "to": to, "reply": f"{code} {msg.decode(errors='replace')[:120]}"},
                          node=node)
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass  # accepted is accepted; a failed QUIT changes nothing
                return "ok"
            finally:
                try:
                    s.close()
                except OSError:
                    pass
        except (smtplib.SMTPException, OSError, socket.timeout) as e:
            if sent_data:
                self.h.info(self.proc, "send", {"token": token, "to": to}, node=node, error=short_error(e))
                return "info"
            self.h.fail(self.proc, "send", {"token": token, "to": to}, node=node, error=short_error(e))
            return "fail"

    def probe(self, host: str, port: int, target: str = "", envelope: str | None = None) -> bool:
        """Availability probe: a new connection, greeting, EHLO, NOOP, QUIT. With ``envelope`` (a
        recipient), MAIL FROM and RCPT TO that recipient instead of the NOOP, then RSET: whether
        mail would be taken in, not only whether the server greets — a relay whose content filter
        is gone answers EHLO and refuses every transaction (Postfix's ``milter_default_action =
        tempfail``: 451 from MAIL FROM on). Nothing is sent."""
        self.h.invoke(self.proc, "probe", {"proto": "smtp", "target": target or f"{host}:{port}"})
        node = None
        try:
            with smtplib.SMTP(timeout=self.timeout) as s:
                code, banner = s.connect(host, port)
                node = identify(f"{code} {banner.decode(errors='replace')}", self.nodes)
                if code != 220:
                    raise smtplib.SMTPConnectError(code, banner)
                s.ehlo("mailha.test")
                if envelope:
                    code, msg = s.mail("probe@mailha.test")
                    if code != 250:
                        raise smtplib.SMTPResponseException(code, msg)
                    code, msg = s.rcpt(envelope)
                    if code not in (250, 251):
                        raise smtplib.SMTPResponseException(code, msg)
                    s.rset()
                else:
                    code, _ = s.noop()
                    if code != 250:
                        raise smtplib.SMTPResponseException(code, b"NOOP")
            self.h.ok(self.proc, "probe", {"proto": "smtp"}, node=node)
            return True
        except (smtplib.SMTPException, OSError) as e:
            self.h.fail(self.proc, "probe", {"proto": "smtp"}, node=node, error=short_error(e))
            return False
