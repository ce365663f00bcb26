"""Webmail in a real browser, the same journey for every design suite (test_webmail_browser.py
in each): a message sent with SMTP through the design's endpoint is delivered, then headless
Chromium logs in through the design's http endpoint, sees it in the inbox and opens it
(``harness.judgements.webmail_in_browser``). The fast HTTP probes of the other tests stay.

Without a browser (no ``playwright`` package or no ``chromium``) the test is skipped with
``unavailable()``'s sentence, before any cluster is brought up; under CI (``CI=true``) it fails
instead, since scripts/setup installs both — as the report's browser tests do.
"""
from __future__ import annotations

import os

import pytest

from harness.certification import Certifier, Outcome
from harness.judgements import webmail_in_browser
from harness.report.browser import unavailable


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def needs_browser():
    """A module's ``pytestmark``: skip with the reason when there is no browser, except under CI,
    where the test runs and ``in_browser`` fails it saying why."""
    reason = unavailable()
    return pytest.mark.skipif(bool(reason) and not in_ci(), reason=f"no browser for the webmail journey: {reason}.")


def in_browser(cert: Certifier) -> Outcome:
    """The webmail journey in headless Chromium on ``cert``'s cluster; its evidence under ``webmail``."""
    reason = unavailable()
    if reason:
        (pytest.fail if in_ci() else pytest.skip)(f"no browser for the webmail journey: {reason}.")
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        j = webmail_in_browser(cert, sc)
    if j:
        print(f"\nwebmail in the browser ({cert.design}): start {j['launch_s']} s, login {j['login_s']} s, "
              f"inbox {j['inbox_s']} s, open {j['open_s']} s, journey {j['total_s']} s; screenshot {j['screenshot']}")
    return cert.finish()
