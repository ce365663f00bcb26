"""Spam and virus test messages to the filters, and the filtering verdicts read from the history.

LOCAL ADAPTATION (to be generalised by the lead, see docs/functional-split.md):
- ``send_kind`` records an ordinary ``send`` op ({token, to, via, kind}) like
  ``harness.clients.smtp.SmtpClient.send``, whose message body is fixed (``message.build``). It
  should become ``SmtpClient.send(..., body=None)`` with ``message.build(..., kind=...)``.
- ``verdicts`` is a pure function of the history (the ``send`` ops of the given process
  prefix, with their ``kind`` and the fault windows): it belongs in ``harness/checkers/`` as a
  ``filtering`` checker so that ``mailha analyze`` re-runs it.

A test message carries its token (X-Mailha-Token, Message-ID, Subject) like every workload
message, so the final reads of the store find it if a filter ever let it through: the
``messages`` checker then fails it as ``failed_but_delivered`` (refused, yet in a mailbox).
"""
from __future__ import annotations

import email.utils
import smtplib
import socket
import time
from email.message import EmailMessage

from harness.clients import identify, short_error
from harness.clients.message import TOKEN_HEADER

# the standard test strings (not malware): the EICAR test file and SpamAssassin's GTUBE
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
KINDS = ("clean", "gtube", "eicar")


def message(kind: str, token: str, to: str, sender: str = "sender@mailha.test") -> bytes:
    """A message of ``kind`` (clean, gtube, eicar) carrying ``token``; EICAR as an attachment."""
    m = EmailMessage()
    m["From"] = f"mailha <{sender}>"
    m["To"] = f"<{to}>"
    m["Subject"] = f"mailha {token} {kind}"
    m["Message-ID"] = f"<{token}@mailha.test>"
    m[TOKEN_HEADER] = token
    m["Date"] = email.utils.formatdate(localtime=False)
    m.set_content(f"mailha {kind} test message {token}\n" + (GTUBE + "\n" if kind == "gtube" else ""))
    if kind == "eicar":
        m.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="eicar.com")
    return m.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


def send_kind(history, proc: str, nodes, host: str, port: int, token: str, to: str, kind: str,
              timeout: float = 30.0, **extra) -> dict:
    """Send one message of ``kind``; records a ``send`` op (ok = 250 to the end of DATA, fail =
    a refusal with its code, info = the connection broke after DATA) whose value also holds
    ``extra`` (e.g. filter, condition). Returns {type, code, text, seconds, node}."""
    value = {"token": token, "to": to, "via": f"{host}:{port}", "kind": kind, **extra}
    history.invoke(proc, "send", value)
    t0 = time.monotonic()
    node, code, text, sent_data = None, None, "", False
    try:
        s = smtplib.SMTP(timeout=timeout)
        try:
            c, banner = s.connect(host, port)
            node = identify(banner.decode(errors="replace"), nodes)
            steps = [("greeting", lambda: (c, banner)), ("EHLO", lambda: s.ehlo("mailha.test")),
                     ("MAIL", lambda: s.mail("sender@mailha.test")), ("RCPT", lambda: s.rcpt(to)),
                     ("DATA", lambda: s.docmd("DATA"))]
            for what, step in steps:
                code, msg = step()
                text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
                want = {"greeting": (220,), "DATA": (354,)}.get(what, (250, 251))
                if code not in want:
                    text = f"{what}: {text}"
                    break
            else:
                sent_data = True
                s.send(message(kind, token, to) + b".\r\n")
                code, msg = s.getreply()
                text = msg.decode(errors="replace")
        finally:
            try:
                s.close()
            except OSError:
                pass
    except (smtplib.SMTPException, OSError, socket.timeout) as e:
        secs = round(time.monotonic() - t0, 3)
        out = "info" if sent_data else "fail"
        getattr(history, out)(proc, "send", {**value, "seconds": secs}, node=node, error=short_error(e))
        return {"type": out, "code": None, "text": short_error(e), "seconds": secs, "node": node}
    secs = round(time.monotonic() - t0, 3)
    reply = {**value, "reply": f"{code} {text[:160]}", "code": code, "seconds": secs}
    if code == 250 and sent_data:
        history.ok(proc, "send", reply, node=node)
        return {"type": "ok", "code": code, "text": text, "seconds": secs, "node": node}
    history.fail(proc, "send", reply, node=node, error=f"{code} {text[:120]}")
    return {"type": "fail", "code": code, "text": text, "seconds": secs, "node": node}


# -- the verdicts (pure: history events in, a result out) ----------------------------------------------
def _cls(op) -> str:
    """How a filter answered one send: accepted (250), deferred (4xx), refused (5xx) or error."""
    if op.type == "ok":
        return "accepted"
    code = (op.done.value or {}).get("code") if op.done else None
    if isinstance(code, int) and 400 <= code < 500:
        return "deferred"
    if isinstance(code, int) and 500 <= code < 600:
        return "refused"
    return "error"


#: what a filter may answer, by condition (scanners up or not) and kind of message. With a scanner
#: down nothing may be accepted: clean mail is deferred; spam or a virus may also be refused (rspamd
#: still knows GTUBE when only clamd is down: 554 is the right answer there)
EXPECT = {("up", "clean"): ("accepted",), ("up", "gtube"): ("refused",), ("up", "eicar"): ("refused",),
          ("down", "clean"): ("deferred",), ("down", "gtube"): ("deferred", "refused"),
          ("down", "eicar"): ("deferred", "refused")}


def verdicts(ops, *, min_each: int = 1) -> dict:
    """``ops``: paired ``send`` ops of the filtering client, each invoke value with ``kind``,
    ``condition`` (``up``: scanners running, ``down``: ``scanner`` of that filter dead) and the
    filter it went to (``filter``). Fails when any answer is not one ``EXPECT`` allows — above
    all a 250 for spam, a virus, or anything while a scanner is down (let through unscanned). Unknown
    when a (filter, condition, kind) cell that was asked for has fewer than ``min_each`` answers,
    or when an answer is neither 250, 4xx nor 5xx (the filter did not answer at all)."""
    cells: dict[tuple, list] = {}
    for o in ops:
        v = o.invoke.value or {}
        cond = v.get("condition") if v.get("condition") == "up" else f"{v.get('scanner') or 'scanner'}-down"
        cells.setdefault((v.get("filter"), cond, v.get("kind")), []).append(o)
    reasons, unknown, table = [], [], {}
    for (flt, cond, kind), lst in sorted(cells.items(), key=lambda kv: tuple(map(str, kv[0]))):
        want = EXPECT.get(("up" if cond == "up" else "down", kind), ())
        got = [_cls(o) for o in lst]
        secs = [((o.done.value or {}).get("seconds") if o.done else None) for o in lst]
        secs = [s for s in secs if isinstance(s, (int, float))]
        table[f"{flt}/{cond}/{kind}"] = {"answers": got, "max_s": max(secs) if secs else None,
                                         "replies": [((o.done.value or {}).get("reply") or o.error) if o.done else None
                                                     for o in lst][:3]}
        bad = [g for g in got if g not in (*want, "error")]
        if bad:
            reasons.append(f"{flt}, {cond}: {kind} {', '.join(sorted(set(bad)))} (must be {' or '.join(want)}): "
                           f"{table[f'{flt}/{cond}/{kind}']['replies'][0]}")
        elif got.count("error") or len(got) < min_each:
            unknown.append(f"{flt}, {cond}: {kind} got no SMTP answer ({lst[0].error if lst else 'none sent'})")
    valid = "fail" if reasons else ("unknown" if unknown or not cells else "pass")
    return {"valid": valid, "reasons": reasons or unknown, "cells": table}
