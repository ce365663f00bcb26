"""``mailha chaos DESIGN``: a long, seeded chaos run (see chaos/nemesis.py)."""
from __future__ import annotations


def add_parsers(sub) -> None:
    """Filled in by the chaos work."""
