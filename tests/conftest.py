"""Fixtures shared by the unit tests."""
import os

import pytest

from harness.report import browser


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium for the browser tests: skipped with the reason when it (or the playwright
    package) is missing — except under CI, where scripts/setup installs both, so the test fails."""
    reason = browser.unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests must run in CI, but {reason}.")
        pytest.skip(f"no browser for the browser tests: {reason}.")
    return browser.chromium_path()
