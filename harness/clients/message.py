"""Test messages: each carries a unique token in its Message-ID, a header and its Subject."""
from __future__ import annotations

import email.utils
import re

TOKEN_HEADER = "X-Mailha-Token"
TOKEN_RE = re.compile(r"\b(mh-[a-z0-9]+-[a-z0-9]+)\b")


def build(token: str, to: str, sender: str = "sender@mailha.test", body_lines: int = 3) -> bytes:
    lines = [
        f"From: mailha <{sender}>",
        f"To: <{to}>",
        f"Subject: mailha {token}",
        f"Message-ID: <{token}@mailha.test>",
        f"{TOKEN_HEADER}: {token}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        *[f"mailha test message {token}, line {i}." for i in range(body_lines)],
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def token_of(header_bytes: bytes | str | None) -> str | None:
    """The token in a message's headers (X-Mailha-Token, else Message-ID or Subject)."""
    if header_bytes is None:
        return None
    text = header_bytes.decode("ascii", "replace") if isinstance(header_bytes, bytes) else header_bytes
    m = re.search(rf"^{TOKEN_HEADER}:\s*(\S+)", text, re.I | re.M)
    if m:
        return m.group(1)
    m = TOKEN_RE.search(text)
    return m.group(1) if m else None
