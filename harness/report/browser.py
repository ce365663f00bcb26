"""The report in a real browser: Debian's headless Chromium driven by Playwright for Python.

Optional at run time: ``unavailable()`` says in one sentence why no browser can be used (the
``playwright`` package or the ``chromium`` binary is missing), and nothing else in mailha needs
one. Playwright never downloads a browser here: it launches the system's Chromium by path
(``MAILHA_CHROMIUM``, else ``chromium`` on PATH); scripts/setup installs both.

``open_report(index_html, screenshot=...)`` loads the page at 1024 px with every request routed:
only the page itself and ``data:`` URIs are let through, anything else is aborted and listed.
It answers what a reader would see: the page's scroll width against the window's, each matrix
cell's text and agreement class, and the requests it refused.

``routed_page(allow)`` is the one way mailha opens a page in that browser (the report here, the
webmail journey in ``harness/clients/browser_webmail.py``): a fresh headless Chromium with the
same launch arguments, every request routed through ``allow(url)``.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

WIDTH = 1024
HEIGHT = 800
SCREENSHOT = "report-1024.png"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
MAX_SHOT_HEIGHT = 6000   # px: the header and the whole matrix, not every test's block
# a Chromium that nothing else on the host disturbs: no first-run work, no background fetches
ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps", "--metrics-recording-only"]

# what the page reports about itself (run in the page, after it loaded)
_MEASURE = """() => {
  const cells = [...document.querySelectorAll('table.matrix td.cell')].map(td => ({
    cls: [...td.classList].find(c => c.startsWith('c-')) || '',
    text: td.innerText.trim(),
    overflow: td.scrollWidth > td.clientWidth + 1,
    width: td.getBoundingClientRect().width,
  }));
  const matrix = document.querySelector('#matrix');
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth,
          matrixBottom: matrix ? Math.ceil(matrix.getBoundingClientRect().bottom + window.scrollY) : 0,
          cells: cells};
}"""


def chromium_path() -> str | None:
    """The system Chromium: ``MAILHA_CHROMIUM`` if set, else the first of chromium/chromium-browser on PATH."""
    env = os.environ.get("MAILHA_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable() -> str | None:
    """Why no browser can open the report, in one sentence; None when one can."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (scripts/setup installs it: pip install -e .[browser])"
    if chromium_path() is None:
        where = os.environ.get("MAILHA_CHROMIUM")
        return (f"MAILHA_CHROMIUM={where} is not an executable" if where else
                "no chromium binary on PATH (scripts/setup installs Debian's: apt-get install chromium)")
    return None


@contextmanager
def routed_page(allow: Callable[[str], bool], *, width: int = WIDTH, height: int = HEIGHT) -> Iterator[tuple]:
    """A page of a fresh headless Chromium (the system's, launched by path with ``ARGS``) at
    ``width`` x ``height`` px, service workers blocked, every request routed: a URL that
    ``allow(url)`` accepts goes through, any other is aborted.

    Yields ``(page, seen)``; ``seen`` is {"requests": [every URL asked for], "blocked": [URLs
    refused]}, filled as the page loads. The browser is closed on leaving. Raises RuntimeError with
    ``unavailable()``'s sentence when there is no browser."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    seen: dict[str, list[str]] = {"requests": [], "blocked": []}

    def route(r):
        u = r.request.url
        seen["requests"].append(u)
        if allow(u):
            r.continue_()
        else:
            seen["blocked"].append(u)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                      service_workers="block", offline=False)
            ctx.route("**/*", route)
            yield ctx.new_page(), seen
            ctx.close()
        finally:
            browser.close()


def open_report(index_html: str | Path, screenshot: str | Path | None = None, width: int = WIDTH) -> dict:
    """Open the report in headless Chromium at ``width`` px; keep a screenshot of its top (the
    header and the whole claims matrix) in ``screenshot`` if given.

    Returns {url, scroll_width, inner_width, cells: [{cls, text, overflow, width}], requests: [every
    URL asked for], blocked: [URLs refused: neither the page itself nor data:], screenshot: path|None}.
    Raises RuntimeError with ``unavailable()``'s sentence when there is no browser."""
    url = Path(index_html).resolve().as_uri()
    with routed_page(lambda u: u.split("#", 1)[0] == url or u.startswith("data:"), width=width) as (page, seen):
        page.goto(url, wait_until="load")
        m = page.evaluate(_MEASURE)
        shot = None
        if screenshot is not None:
            shot = Path(screenshot)
            shot.parent.mkdir(parents=True, exist_ok=True)
            height = max(HEIGHT, min(m["matrixBottom"] + 16, MAX_SHOT_HEIGHT))
            page.screenshot(path=str(shot), full_page=True,
                            clip={"x": 0, "y": 0, "width": width, "height": height})
    return {"url": url, "scroll_width": m["scrollWidth"], "inner_width": m["innerWidth"], "cells": m["cells"],
            "requests": seen["requests"], "blocked": seen["blocked"], "screenshot": shot}


def try_screenshot(run_path: str | Path) -> dict:
    """A screenshot of a run's index.html at 1024 px into the run directory, when a browser is
    available: {"path": ...}, or {"skipped": why} — never an error, the report stands without it."""
    reason = unavailable()
    if reason:
        return {"skipped": reason}
    try:
        out = open_report(Path(run_path) / "index.html", Path(run_path) / SCREENSHOT)
    except Exception as e:  # a browser that fails must not fail the run's report
        return {"skipped": f"the browser could not open the report ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"}
    return {"path": str(out["screenshot"])}
