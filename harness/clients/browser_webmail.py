"""Roundcube webmail in a real browser: the journey a person makes, in headless Chromium.

``webmail_journey(base_url, user, password, subject, screenshot=...)`` opens the login page,
logs in, waits for the inbox list to show the message whose subject holds ``subject`` (a unique
token), opens it, checks that its body text is shown, and keeps a screenshot. The browser is
Debian's Chromium driven by Playwright, launched the one way mailha launches it
(``harness.report.browser.routed_page``: never a browser Playwright downloads). Only requests to
the webmail's own scheme, host and port (and ``data:``/``blob:`` URIs) go through; any other is
aborted and listed in ``blocked``.

It answers, never raises on what the webmail does: {"ok", the steps' timings in seconds
(``login_s``, ``inbox_s``, ``open_s``; None for a step not reached), "failed_step" (one of
``STEPS``, or None), "error" (one sentence naming that step), "seen" (what the page showed, and
``served_by``: the webmail servers that served its pages, from ``X-Served-By``),
"requests", "blocked", "screenshot"}. Only a missing browser raises (RuntimeError with
``harness.report.browser.unavailable()``'s sentence).

Beside this, the fast HTTP probes (``harness.clients.webmail``) stay what the availability
checks are built on: this journey is one person, once, in a real browser.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

#: the journey's steps, in order; a failure names the first that did not complete
STEPS = ("login", "inbox", "open")
#: what each step is, for the error sentence
STEP_WHAT = {"login": "log in", "inbox": "see the message in the inbox list", "open": "open the message and see its body"}
#: the whole journey's default budget (the browser's start included)
TIMEOUT_S = 30.0
#: the window: wide enough for Roundcube's three columns (list and message side by side)
WIDTH, HEIGHT = 1280, 800

# Roundcube (elastic skin) as a person sees it
LOGIN_USER, LOGIN_PASS, LOGIN_SUBMIT = "#rcmloginuser", "#rcmloginpwd", "#rcmloginsubmit"
MESSAGE_LIST = "#messagelist"
LIST_ROWS = "#messagelist tbody tr"
MESSAGE_STACK_ERROR = "#messagestack .error"
MESSAGE_BODY = "#messagebody"


class StepFailed(Exception):
    """A step of the journey did not complete; the message says what was seen instead."""


# -- pure -----------------------------------------------------------------------------------------
def allowed(base_url: str) -> Callable[[str], bool]:
    """The request filter of the journey: the webmail's own scheme, host and port, and ``data:``
    and ``blob:`` URIs (made by the page itself); anything else is refused."""
    own = urlsplit(base_url)
    origin = (own.scheme, own.hostname, own.port or {"http": 80, "https": 443}.get(own.scheme))

    def allow(url: str) -> bool:
        if url.startswith(("data:", "blob:")):
            return True
        u = urlsplit(url)
        return (u.scheme, u.hostname, u.port or {"http": 80, "https": 443}.get(u.scheme)) == origin
    return allow


def step_error(step: str, detail: str, *, base_url: str, user: str, subject: str) -> str:
    """One sentence naming the step that failed, where, for whom, and what was seen instead."""
    if step not in STEP_WHAT:
        raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
    what = STEP_WHAT[step]
    if step != "login":
        what = what.replace("the message", f"the message {subject!r}")
    detail = " ".join(str(detail).split()).rstrip(".")
    return f"the browser could not {what} ({step} step) at {base_url} as {user}: {detail}."


def new_result(base_url: str, user: str, subject: str) -> dict:
    """The journey's answer before any step ran (every timing None, nothing seen)."""
    return {"ok": False, "base_url": base_url, "user": user, "subject": subject,
            **{f"{s}_s": None for s in STEPS}, "launch_s": None, "total_s": None,
            "failed_step": None, "error": None, "seen": {}, "requests": [], "blocked": [], "screenshot": None}


def fail(result: dict, step: str, detail: str) -> dict:
    """``result`` with ``step`` recorded as the one that failed (and its sentence)."""
    result.update(ok=False, failed_step=step, error=step_error(step, detail, base_url=result["base_url"],
                                                               user=result["user"], subject=result["subject"]))
    return result


def short(e: BaseException, waited_s: float | None = None) -> str:
    """A browser error in a few words: a time-out as what was waited for, else its first line."""
    if type(e).__name__ == "TimeoutError":
        return f"nothing within {waited_s:.1f} s" if waited_s is not None else "timed out"
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    first = " ".join(first.split())
    return first[:200] + ("…" if len(first) > 200 else "")


# -- the steps ------------------------------------------------------------------------------------
def _login(page, base: str, user: str, password: str, ms: Callable[[], int]) -> dict:
    answer = page.goto(base + "/", wait_until="domcontentloaded", timeout=ms())
    if answer is not None and answer.status >= 400:
        raise StepFailed(f"the login page answered HTTP {answer.status}")
    page.fill(LOGIN_USER, user, timeout=ms())
    page.fill(LOGIN_PASS, password, timeout=ms())
    page.click(LOGIN_SUBMIT, timeout=ms())
    # either the mail view or the login page again with Roundcube's error message
    page.locator(MESSAGE_LIST).or_(page.locator(MESSAGE_STACK_ERROR)).first.wait_for(state="attached", timeout=ms())
    if page.locator(MESSAGE_LIST).count() == 0:
        said = page.locator(MESSAGE_STACK_ERROR).first.inner_text(timeout=ms()).strip()
        raise StepFailed(f"the login page said {said!r}")
    return {"title": page.title(), "url_after_login": page.url}


def _inbox(page, subject: str, ms: Callable[[], int]):
    row = page.locator(LIST_ROWS, has_text=subject).first
    try:
        row.wait_for(state="visible", timeout=ms())
    except Exception as e:
        if type(e).__name__ != "TimeoutError":
            raise
        n = page.locator(LIST_ROWS).count()
        raise StepFailed(f"not among the {n} rows of the inbox list") from None
    return row, {"rows": page.locator(LIST_ROWS).count(), "row": " ".join(row.inner_text(timeout=ms()).split())[:200]}


def _open(page, row, text: str, ms: Callable[[], int]) -> dict:
    row.dblclick(timeout=ms())
    body = page.locator(MESSAGE_BODY)
    body.first.wait_for(state="visible", timeout=ms())
    shown = " ".join(body.first.inner_text(timeout=ms()).split())
    if text not in shown:
        # the body may still be filling in: wait for the text itself before saying it is not there
        try:
            page.locator(MESSAGE_BODY, has_text=text).first.wait_for(state="visible", timeout=ms())
            shown = " ".join(body.first.inner_text(timeout=ms()).split())
        except Exception:
            raise StepFailed(f"the message body does not show {text!r} (it shows {shown[:120]!r})") from None
    return {"url_of_message": page.url, "body": shown[:300]}


# -- the journey ----------------------------------------------------------------------------------
def webmail_journey(base_url: str, user: str, password: str, subject: str, *, screenshot: Path,
                    timeout_s: float = TIMEOUT_S, body: str | None = None) -> dict:
    """Log in to the webmail at ``base_url`` in headless Chromium, find the message whose subject
    holds ``subject`` in the inbox list, open it and check that its body shows ``body`` (default:
    ``subject``, the token every mailha message carries in its body too). A screenshot of the
    last page reached goes to ``screenshot`` (also when a step failed). The whole journey, the
    browser's start included, has ``timeout_s`` seconds; each step gets what is left.

    Returns the answer described in the module docstring; ``ok`` only when every step completed.
    Raises RuntimeError when there is no browser (``unavailable()``'s sentence)."""
    from ..report.browser import routed_page

    out = new_result(base_url, user, subject)
    base = base_url.rstrip("/")
    text = body if body is not None else subject
    t0 = time.monotonic()
    deadline = t0 + timeout_s

    def ms() -> int:
        return max(1, int((deadline - time.monotonic()) * 1000))

    with routed_page(allowed(base_url), width=WIDTH, height=HEIGHT) as (page, seen):
        out["launch_s"] = round(time.monotonic() - t0, 3)
        served = out["seen"].setdefault("served_by", [])
        page.on("response", lambda r: _served_by(r, served))
        step, row = None, None
        try:
            for step in STEPS:
                t = time.monotonic()
                try:
                    if step == "login":
                        out["seen"].update(_login(page, base, user, password, ms))
                    elif step == "inbox":
                        row, s = _inbox(page, subject, ms)
                        out["seen"].update(s)
                    else:
                        out["seen"].update(_open(page, row, text, ms))
                except StepFailed as e:
                    fail(out, step, str(e))
                    break
                except Exception as e:  # a browser error or time-out: the step did not complete
                    fail(out, step, short(e, time.monotonic() - t))
                    break
                out[f"{step}_s"] = round(time.monotonic() - t, 3)
            else:
                out["ok"] = True
        finally:
            out["screenshot"] = _screenshot(page, screenshot, out)
            out["requests"], out["blocked"] = list(seen["requests"]), list(seen["blocked"])
    out["total_s"] = round(time.monotonic() - t0, 3)
    return out


def _served_by(response, served: list) -> None:
    """The server named by a page's ``X-Served-By`` header (nginx of each webmail server), added
    when it differs from the last one: which webmail server(s) the person was on, in order."""
    try:
        if response.request.resource_type == "document":
            who = response.headers.get("x-served-by")
            if who and (not served or served[-1] != who):
                served.append(who)
    except Exception:  # a response the browser already dropped tells nothing
        pass


def _screenshot(page, path: Path, out: dict) -> str | None:
    """The window as it is now into ``path``; None (and a note in ``seen``) when it cannot be taken."""
    try:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), timeout=10_000)
        return str(path)
    except Exception as e:  # a missing screenshot must not hide what the journey saw
        out["seen"]["screenshot_error"] = short(e)
        return None
