"""Progress lines on stderr for long steps (builds, bring-up, convergence waits).

On a terminal the status line is rewritten in place; otherwise (CI logs) each distinct
status is printed once, at most every ``min_interval`` seconds, so logs stay readable.
"""
from __future__ import annotations

import os
import sys
import threading
import time


class Progress:
    def __init__(self, stream=None, prefix: str = "mailha", quiet: bool = False, min_interval: float = 2.0):
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.quiet = quiet or os.environ.get("MAILHA_QUIET") == "1"
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval
        self._last = ""
        self._last_t = 0.0
        self._open = False
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _clear(self) -> None:
        if self._open and self.tty:
            self._write("\r\033[K")
        self._open = False

    def step(self, text: str) -> None:
        """A new phase: always printed."""
        if self.quiet:
            return
        with self._lock:
            self._clear()
            self._write(f"{self.prefix}: {text}\n")
            self._last = text

    def note(self, text: str) -> None:
        self.step(text)

    def done(self, text: str) -> None:
        self.step(text)

    def status(self, text: str, force: bool = False) -> None:
        """A transient status: rewritten in place on a terminal, rate-limited otherwise
        (``force``: always printed, for a few long-lived statuses such as build steps)."""
        if self.quiet:
            return
        with self._lock:
            now = time.monotonic()
            if self.tty:
                self._write(f"\r\033[K{self.prefix}: {text[:150]}")
                self._open = True
            elif text != self._last and (force or now - self._last_t >= self.min_interval):
                self._write(f"{self.prefix}: {text}\n")
                self._last_t = now
            self._last = text

    def end(self) -> None:
        with self._lock:
            if self._open and self.tty:
                self._write("\n")
            self._open = False
