"""The recording side of a certification run, shared by both drivers (the pytest plugin and the
chaos runner): where checker results and claim evidence go.

``RunContext`` is what a run needs to record anything: its run directory, its history, the
thresholds in force, the seed and the progress line. The pytest plugin's session is one (it has
these attributes); the chaos runner builds one directly. ``Checks`` runs a checker on the history
and stores the result (``checks.json``, so ``mailha analyze`` can re-run it); ``Evidence`` stores
what a test measured for a claim (``claims.json``, or ``variants.json`` for a broken variant).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import claims as claims_mod
from .history import History
from .progress import Progress
from .store import RunDir


@dataclass
class RunContext:
    run: RunDir
    history: History
    thresholds: dict
    seed: int
    progress: Progress


class Evidence:
    """What a test measured for a claim: ``evidence.record(design, claim, measured, numbers=...)``."""

    def __init__(self, session, nodeid: str):
        self.s = session
        self.nodeid = nodeid
        self.records: list[dict] = []

    def record(self, design: str, claim: str, measured: str, *, numbers: dict | None = None,
               note: str = "", checks: list[str] | None = None, variant: str | None = None,
               outcome: str | None = None) -> dict:
        """Evidence for the claims matrix (``claims.json``); with ``variant`` the result of a deliberately
        broken cluster, kept apart in ``variants.json`` so it never counts for the design itself.
        ``outcome``: the outcome of the test that measured it when the recorder knows it (the chaos
        runner does; under pytest the report reads it from junit.xml)."""
        claims_mod.catalogue().get(design, claim)  # raises on unknown
        if measured not in claims_mod.VALUES:
            raise ValueError(f"measured must be one of {claims_mod.VALUES}, got {measured!r}")
        rec = {"design": design, "claim": claim, "test": self.nodeid, "measured": measured,
               "numbers": numbers or {}, "note": note, "checks": checks or [], "t": self.s.history.now()}
        if variant:
            rec["variant"] = variant
        if outcome:
            rec["outcome"] = outcome
        self.records.append(rec)
        self.s.run.append_json("variants.json" if variant else "claims.json", rec)
        return rec


class Checks:
    """Runs checkers and stores their results (so ``mailha analyze`` can re-run them)."""

    def __init__(self, session, nodeid: str):
        self.s = session
        self.nodeid = nodeid

    def run(self, checker: str, *, design: str, window: tuple[float, float] | None = None, **options) -> dict:
        from .checkers import run_checker

        events = self.s.history.snapshot()
        result = run_checker(checker, events, test=self.nodeid, design=design, window=window, **options)
        self.s.run.append_json("checks.json", {"test": self.nodeid, "design": design, "checker": checker,
                                               "window": window, "options": options, "result": result})
        return result
