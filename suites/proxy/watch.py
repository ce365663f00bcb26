"""The recovery watch: after a dependency every login needs (the directory) answers again, every
user who failed while it was away is tried again until served (issue 10 path 14).

A key is (protocol, via, user): via a front end's own address (the per-proxy probes' groups) or
through the client endpoint (``endpoint``: the workload's failures). Which keys still wait is
decided by the checker's own definition (``dependency_outage.pending`` on the history so far),
so the watch and the verdict cannot disagree about who was served again. Each waiting key is
retried as a ``retry`` op (a login; a RCPT for SMTP; a webmail login for HTTP) by a client of its
own — one slow login never holds up another user's retry — every ``BACKOFF_S`` after its last
attempt ended (the resolution of the recovery figure), while the per-proxy probes keep probing
everybody.

The watch ends when no key waits, no attempt begun during the outage is still open and at least
``min_watch_s`` have passed (so a failure after the bound is still seen), or at ``deadline_s``:
what still waits then is "not recovered" for the checker.
"""
from __future__ import annotations

import itertools
import threading
import time

from harness.checkers import dependency_outage
from harness.checkers.attempts import fault_window
from harness.checkers.common import window_events
from harness.history import select

from .probes import GroupProbes

PROTOS = ("imap", "pop3", "smtp", "http")
BACKOFF_S = 0.25  # a waiting key is tried again this long after its last attempt ended


def watch_recovery(cert, topo, fid: str, vias: dict[str, str | None], *, min_watch_s: float,
                   deadline_s: float, imap_select: bool = False) -> dict:
    """``vias``: {via: address, or None for the client endpoint}. Returns {seconds, waiting}.
    ``imap_select``: an IMAP retry opens the INBOX, as the probes it follows (``GroupProbes``)."""
    w = fault_window(_events(cert), fault_id=fid)
    if w is None or w["end"] is None:
        return {"seconds": 0.0, "waiting": None}
    start, end = w["start"], w["end"]
    users = topo.users()
    probers = {via: GroupProbes(topo, cert.h, {via: users}, protos=PROTOS, timeout=10.0, target=addr,
                                imap_select=imap_select)
               for via, addr in vias.items()}
    waiting: set = set()
    threads: dict[tuple[str, str, str], threading.Thread] = {}
    lock, stop = threading.Lock(), threading.Event()
    procs = itertools.count()  # every retrying client its own process name (one operation at a time)

    def retry(k: tuple[str, str, str], proc: str) -> None:
        proto, via, user = k
        while not stop.is_set():
            with lock:
                if k not in waiting:
                    return
            probers[via].probe(proc, via, proto, user, users.get(user, ""), f="retry")
            stop.wait(BACKOFF_S)

    t0 = time.monotonic()
    left: set = set()
    try:
        while True:
            ev = _events(cert, since=start - 60)
            left = {k for k in dependency_outage.pending(ev, start, end) if k[1] in vias and k[2] in users
                    and k[0] in PROTOS}
            open_ = any(o.done is None and o.start <= end for o in dependency_outage.attempts(ev))
            with lock:
                waiting.clear()
                waiting.update(left)
            for k in sorted(left):  # one retrying client per waiting user: nobody waits behind another
                if k not in threads or not threads[k].is_alive():
                    threads[k] = threading.Thread(target=retry, args=(k, f"retry-{next(procs)}"), daemon=True)
                    threads[k].start()
            elapsed = time.monotonic() - t0
            cert.s.progress.status(f"recovery watch: {len(left)} users still failing after {elapsed:.0f} s")
            if (not left and not open_ and elapsed >= min_watch_s) or elapsed >= deadline_s:
                break
            time.sleep(0.25)
    finally:
        stop.set()
        for t in threads.values():
            t.join(timeout=15)
    return {"seconds": round(time.monotonic() - t0, 1), "waiting": len(left)}


def _events(cert, since: float | None = None) -> list:
    """This test's history (operations invoked since ``since``, with their completions)."""
    ev = select(cert.h.snapshot(), test=cert.nodeid)
    return ev if since is None else window_events(ev, (since, float("inf")))
