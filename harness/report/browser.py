"""The report in a real browser: Debian's headless Chromium driven by Playwright for Python.

Optional at run time: ``unavailable()`` says in one sentence why no browser can be used (the
``playwright`` package or the ``chromium`` binary is missing), and nothing else in mailha needs
one. Playwright never downloads a browser here: it launches the system's Chromium by path
(``MAILHA_CHROMIUM``, else ``chromium`` on PATH); scripts/setup installs both.

``open_report(index_html, screenshot=...)`` loads the page at 1024 px with every request routed:
only the page itself and ``data:`` URIs are let through, anything else is aborted and listed.
It answers what a reader would see: the page's scroll width against the window's, each matrix
cell's text and agreement class, and the requests it refused.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

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


def open_report(index_html: str | Path, screenshot: str | Path | None = None, width: int = WIDTH) -> dict:
    """Open the report in headless Chromium at ``width`` px; keep a screenshot of its top (the
    header and the whole claims matrix) in ``screenshot`` if given.

    Returns {url, scroll_width, inner_width, cells: [{cls, text, overflow, width}], requests: [every
    URL asked for], blocked: [URLs refused: neither the page itself nor data:], screenshot: path|None}.
    Raises RuntimeError with ``unavailable()``'s sentence when there is no browser."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    url = Path(index_html).resolve().as_uri()
    requests: list[str] = []
    blocked: list[str] = []

    def route(r):
        u = r.request.url
        requests.append(u)
        if u.split("#", 1)[0] == url or u.startswith("data:"):
            r.continue_()
        else:
            blocked.append(u)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": HEIGHT}, device_scale_factor=1,
                                      service_workers="block", offline=False)
            ctx.route("**/*", route)
            page = ctx.new_page()
            page.goto(url, wait_until="load")
            m = page.evaluate(_MEASURE)
            shot = None
            if screenshot is not None:
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                height = max(HEIGHT, min(m["matrixBottom"] + 16, MAX_SHOT_HEIGHT))
                page.screenshot(path=str(shot), full_page=True,
                                clip={"x": 0, "y": 0, "width": width, "height": height})
            ctx.close()
        finally:
            browser.close()
    return {"url": url, "scroll_width": m["scrollWidth"], "inner_width": m["innerWidth"], "cells": m["cells"],
            "requests": requests, "blocked": blocked, "screenshot": shot}


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
