"""Real protocol clients (SMTP, IMAP, POP3, Roundcube webmail over HTTP, LDAP).

Each operation is recorded in the history as an ``invoke`` and exactly one completion
(see docs/history.md). The server that answered is taken from its greeting.
"""
from __future__ import annotations

import re


def identify(greeting: str, nodes: list[str] | tuple[str, ...] = ()) -> str | None:
    """The node named in a greeting/banner (``* OK mirror-a ready.`` -> ``mirror-a``).

    Known node names win (longest first, so ``be10`` is not read as ``be1``); otherwise the
    first word that looks like a host name after the status code.
    """
    text = greeting or ""
    for n in sorted(nodes, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text):
            return n
    m = re.match(r"^(?:\* OK|\+OK|220[ -])\s*(?:\[[^\]]*\]\s*)?([A-Za-z0-9][\w.-]*)", text)
    if m:
        return m.group(1).split(".")[0]
    return None


def short_error(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}".strip()
    return s[:200]
