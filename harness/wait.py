"""One way to wait for something: ``until``.

::

    ip = until(lambda: ip_of(name), timeout=5, interval=0.1, what=f"{name} to get an address", container=name)

``pred`` is called at once, then every ``interval`` seconds, until it returns a truthy value
(which ``until`` returns) or ``timeout`` seconds have passed (one last try is made at the
deadline). An exception of a type in ``errors`` means "not yet" and is remembered, as is a
falsy answer; return ``Not("reason")`` to say why an answer is not good yet. Any other exception
propagates at once.

When it gives up, ``WaitTimeout`` (harness.errors: a ``HostError`` and a ``TimeoutError``) says
in one sentence what was awaited, for how long, and the last error or answer. With
``container``, a container that is no longer running (exited, dead, removed) ends the wait at
once with ``ContainerGone``: nothing it could still do would make the wait succeed. Its state is
read at most every ``check_every`` seconds, and only after a try that failed.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from . import docker
from .errors import ContainerGone, HostError, WaitTimeout

#: container states in which waiting for the container can no longer succeed
GONE = ("exited", "dead", "removed")


class Not:
    """A falsy answer that says why: ``return ok or Not(f"state is {state}")``."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = str(reason)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Not({self.reason!r})"


def container_state(container: str) -> str:
    """The container's ``State.Status`` (running, paused, exited, dead, …), ``removed`` when the
    engine does not know it, ``unknown`` when the engine did not answer."""
    try:
        return docker.state(container, timeout=15)
    except HostError:
        return "unknown"


def describe(last: Any) -> str:
    """The last error or answer of a wait, in a few words."""
    if isinstance(last, BaseException):
        text = f"{type(last).__name__}: {last}".strip()
    elif isinstance(last, Not):
        text = last.reason
    else:
        text = f"the answer was {last!r}"
    text = " ".join(text.split())
    return (text[:240] + "…") if len(text) > 240 else text.rstrip(".")


def until(pred: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str,
          container: str | None = None, errors: tuple[type[BaseException], ...] = (Exception,),
          on_retry: Callable[[Any], None] | None = None, state: Callable[[str], str] | None = None,
          check_every: float = 1.0) -> Any:
    """The first truthy value of ``pred()`` within ``timeout`` seconds (see the module docstring).

    ``what`` completes "waited N s for …" (e.g. ``"mirror-a to answer IMAP"``). ``on_retry(last)``
    is called before each pause (progress lines). ``state(container)`` reads a container's state
    (default: ``docker inspect``; injected by tests).
    """
    state = state or container_state
    start = time.monotonic()
    deadline = start + timeout
    next_check = start
    last: Any = None
    while True:
        try:
            answer = pred()
        except errors as e:
            last = e
        else:
            if answer:
                return answer
            last = answer
        now = time.monotonic()
        if container is not None and now >= next_check:
            s = state(container)
            if s in GONE:
                err = ContainerGone(f"gave up waiting for {what} after {now - start:.1f} s because container "
                                    f"{container} is {s} (last: {describe(last)}).")
                err.what, err.last, err.seconds, err.state = what, last, now - start, s
                raise err
            next_check = now + check_every
        if now >= deadline:
            err = WaitTimeout(f"waited {timeout:.1f} s for {what} in vain; last: {describe(last)}.")
            err.what, err.last, err.seconds = what, last, now - start
            raise err
        if on_retry is not None:
            on_retry(last)
        time.sleep(max(0.0, min(interval, deadline - now)))
