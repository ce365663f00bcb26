"""Small HTML helpers shared by the report's modules: escaping, anchors, numbers, labels."""
from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import quote

# agreement -> (css class, symbol, text): colour always comes with a symbol and a word
AGREE = {
    "agree": ("ok", "✓", "agrees"),
    "exceeds": ("ex", "✓", "exceeds claim"),
    "confirmed": ("cf", "✓", "limitation confirmed"),
    "review": ("rv", "!", "exceeds a No: review"),
    "disagree": ("bad", "✗", "disagrees"),
    "unknown": ("unk", "?", "unknown"),
    "not certified": ("nc", "–", "not certified"),
}
OUTCOME = {
    "passed": ("ok", "✓", "passed"),
    "failed": ("bad", "✗", "failed"),
    "error": ("err", "!", "error"),
    "skipped": ("nc", "–", "skipped"),
    "xfailed": ("nc", "✗", "expected failure"),
    None: ("unk", "?", "no outcome"),
}
VALID = {"pass": ("ok", "✓", "pass"), "fail": ("bad", "✗", "fail"), "unknown": ("unk", "?", "unknown")}
# a broken variant's result: caught when its measurement falls below the claim
CAUGHT = {"caught": ("ok", "✓", "caught"), "not caught": ("bad", "✗", "not caught"), "unknown": ("unk", "?", "unknown")}


def e(x) -> str:
    """Escape anything for HTML text or a quoted attribute (the SVG charts; templates escape themselves)."""
    return html.escape("" if x is None else str(x), quote=True)


def href(path: str) -> str:
    """A relative link to a file of the run, URL-quoted (a template escapes it as any value)."""
    return quote(str(path), safe="/.-_~#")


def slug(*parts) -> str:
    """A stable anchor id: readable prefix plus a short hash so distinct inputs never clash."""
    raw = "::".join(str(p) for p in parts)
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", raw.split("::")[-1])[:40].strip("-")
    return f"{readable or 'x'}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


def num(v) -> str:
    """Numbers as people read them: few digits, no float noise."""
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "–"}[v]
    if isinstance(v, int):
        return f"{v:,}".replace(",", " ") if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e6:
            return str(int(v))
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 1:
            return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def dur(seconds) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


OPS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">", "==": "=", "=": "="}


def within(value, threshold, op: str) -> bool | None:
    try:
        v, t = float(value), float(threshold)
    except (TypeError, ValueError):
        return None
    return {"<=": v <= t, "<": v < t, ">=": v >= t, ">": v > t, "==": v == t, "=": v == t}.get(op)


def pretty(name: str) -> str:
    """``failover_gap_imap`` -> ``failover gap imap``."""
    return str(name).replace("_", " ")


def short_test(nodeid: str) -> str:
    """``suites/mirror/test_failover.py::test_kill`` -> ``test_failover::test_kill``."""
    path, _, rest = str(nodeid).partition("::")
    mod = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{mod}::{rest}" if rest else mod
