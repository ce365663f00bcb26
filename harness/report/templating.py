"""The Jinja2 environment of the HTML report: its templates live in ``templates/`` beside this file.

Autoescaping is on: every value a template prints is HTML-escaped unless it is ``Markup``
(only the inline CSS, the Python-drawn SVG charts and what macros return are). Values are
escaped with the standard library's ``html.escape`` (``&quot;``, ``&#x27;``), ``None`` prints as
nothing, and an undefined name is an error (a typo in a template fails the tests, it does
not print an empty string). docs/report.md says which template draws what.
"""
from __future__ import annotations

import html
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from .util import AGREE, CAUGHT, OPS, OUTCOME, VALID, dur, href, num, pretty, short_test

TEMPLATES = Path(__file__).with_name("templates")


def _finalize(value):
    """What ``{{ value }}`` prints: Markup as it is, None as nothing, anything else escaped."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


def rnum(value, digits: int = 2) -> str:
    """A number rounded to ``digits`` decimals, written as ``num`` writes it."""
    return num(round(value, digits))


def _env() -> Environment:
    from .facts import when
    from .matrix import cell_id

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined, finalize=_finalize)
    env.filters.update(num=num, rnum=rnum, dur=dur, pretty=pretty, short_test=short_test, href=href, when=when)
    env.globals.update(AGREE=AGREE, OUTCOME=OUTCOME, VALID=VALID, CAUGHT=CAUGHT, OPS=OPS, cell_id=cell_id)
    return env


_ENV: Environment | None = None


def env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def render(template: str, **context) -> str:
    """A whole template, rendered with ``context``."""
    return env().get_template(template).render(**context)


def macro(template: str, name: str):
    """A macro of a template, callable from Python; it returns Markup."""
    return getattr(env().get_template(template).module, name)
