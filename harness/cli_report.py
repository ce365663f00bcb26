"""``mailha analyze RUN_DIR`` and ``mailha report RUN_DIR [--merge RUN_DIR...]``."""
from __future__ import annotations


def add_parsers(sub) -> None:
    """Filled in by the report work (issue: compliance report and run store)."""
