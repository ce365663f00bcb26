"""Checkers: pure functions from a history to a verdict with numbers.

Each checker module exposes ``check(events, **options) -> dict`` returning at least
``{"valid": "pass" | "fail" | "unknown", ...numbers}``. A checker that saw too few
successful operations answers ``unknown``, never ``pass``. ``run_checker`` finds a checker
by name, restricts the history to one test (and an optional time window) and runs it;
``mailha analyze`` calls the same function on a stored history.

A window keeps the operations *invoked* within it, with their completions (see
``common.window_events``).
"""
from __future__ import annotations

import importlib

from ..history import Event, select
from .common import window_events

CHECKERS = {
    # name -> module in this package
    "messages": "messages",
    "replicas": "replicas",
    "availability": "availability",
    "split_brain": "split_brain",
    "lag": "lag",
    "convergence": "convergence",
    "load": "load",
    "faults": "faults",
    "sessions": "sessions",
    # tiered designs (front ends, a directory, back ends that each hold their own users)
    "routing": "routing",
    "segmentation": "segmentation",
    "backend_outage": "backend_outage",
    "holder_loss": "holder_loss",
    "session_moves": "session_moves",
    "dependency_outage": "dependency_outage",
    "scale_out": "scale_out",
    # an uptime claim: the run's fault windows projected over a window at stated failure rates
    "uptime": "uptime",
}


def register(name: str, module: str) -> None:
    CHECKERS[name] = module


def run_checker(name: str, events: list[Event], *, test: str | None = None, design: str | None = None,
                window: tuple[float, float] | None = None, **options) -> dict:
    if name not in CHECKERS:
        raise KeyError(f"unknown checker {name!r}; known: {', '.join(sorted(CHECKERS))}")
    mod = importlib.import_module(f"{__name__}.{CHECKERS[name]}")
    evs = select(events, test=test) if test else list(events)
    if window:
        evs = window_events(evs, (float(window[0]), float(window[1])))
    result = mod.check(evs, **options)
    result.setdefault("checker", name)
    return result
