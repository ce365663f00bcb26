"""Turning a scenario's checker results into claim verdicts, the same way in every suite.

A suite's scenario function runs a ``Scenario`` and calls ``cert.claim(...)`` for each seed claim
it evidences, with the measured value (Yes / Some / No / unknown), the numbers behind it (each
with the threshold it was held against) and the reasons when it falls short. ``cert.finish()``
records the evidence in the run directory and returns an ``Outcome``; ``assert_claims_hold``
fails the test naming every claim whose measurement is below the seed's claim.

The same scenario run against a deliberately broken variant of the cluster (``variant=...``)
records its results apart (``variants.json``), so a broken cluster never colours the matrix.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from .claims import ORDER, catalogue
from .scenario import Scenario


def num(value, unit: str = "", threshold=None, op: str = "<=") -> dict:
    """A measured number with the bound it was held against (shown side by side in the report)."""
    if isinstance(value, float):
        value = round(value, 4)
    return {"value": value, "unit": unit, "threshold": threshold, "op": op}


def within(value, threshold, op: str = "<=") -> bool:
    if value is None or threshold is None:
        return False
    return value <= threshold if op == "<=" else value >= threshold


@dataclass
class ClaimResult:
    claim: str
    measured: str
    numbers: dict
    reasons: list[str]
    checks: list[str]

    @property
    def note(self) -> str:
        return "; ".join(self.reasons)


@dataclass
class Outcome:
    design: str
    variant: str | None
    results: dict[str, ClaimResult] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)

    def measured(self, claim: str) -> str | None:
        r = self.results.get(claim)
        return r.measured if r else None

    def below_claim(self) -> dict[str, ClaimResult]:
        """Claims whose measurement is below (or could not reach) what the seed claims."""
        cat = catalogue()
        out = {}
        for cid, r in self.results.items():
            claimed = cat.get(self.design, cid).value
            if r.measured not in ORDER or ORDER[r.measured] < ORDER[claimed]:
                out[cid] = r
        return out

    def assert_claims_hold(self, expected_disagreements: dict[str, str] | None = None) -> None:
        """Every claim measured at or above the seed's claim, or the test fails naming each one.

        ``expected_disagreements`` ({claim: reason}): claims the reference cluster honestly cannot
        keep. When every other claim holds and each of these is measured below the seed's claim,
        ``ExpectedDisagreement`` is raised — the test marks it a strict expected failure
        (``pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=...)``), so the command
        stays green while the report shows the disagreement. If one of them holds after all, nothing
        is raised and the strict xfail turns into a failure: the reason is out of date."""
        expected = dict(expected_disagreements or {})
        bad = self.below_claim()
        cat = catalogue()

        def line(cid, r):
            return (f"{self.design}.{cid}: claimed {cat.get(self.design, cid).value}, measured {r.measured}"
                    + (f" — {r.note}" if r.note else ""))
        unexpected = {c: r for c, r in bad.items() if c not in expected}
        if unexpected:
            raise AssertionError("claims not met:\n  " + "\n  ".join(line(c, r) for c, r in unexpected.items()))
        seen = {c: bad[c] for c in expected if c in bad and bad[c].measured in ORDER}
        if seen and len(seen) == len(expected):
            raise ExpectedDisagreement("expected disagreement with the sheet:\n  " + "\n  ".join(
                f"{line(c, r)} [why: {expected[c]}]" for c, r in seen.items()))
        if seen:  # some expected disagreements seen, others not: the reasons are out of date
            raise AssertionError(f"expected disagreements only partly seen: {sorted(seen)} of {sorted(expected)}")

    def assert_caught(self, *claims: str) -> None:
        """For a broken variant: each named claim must be *measured* below the seed's claim (Yes,
        Some or No below what the sheet claims). ``unknown`` is not caught: a checker that could
        not decide has not shown the defect."""
        cat = catalogue()
        missed = {}
        for c in claims:
            r = self.results.get(c)
            measured = r.measured if r else "not evidenced"
            if measured not in ORDER or ORDER[measured] >= ORDER[cat.get(self.design, c).value]:
                missed[c] = measured
        if missed:
            bad = self.below_claim()
            raise AssertionError(f"broken variant {self.variant!r} was not caught: {missed} "
                                 f"(claims below the seed: {sorted(bad) or 'none'})")


class ExpectedDisagreement(AssertionError):
    """The reference cluster measured below the sheet on a claim it honestly cannot keep (see
    ``Outcome.assert_claims_hold``); raised only when every other claim held."""


_counter = itertools.count(1)


class Certifier:
    """Per-test helper: scenarios with unique message tokens, checkers, claim verdicts."""

    def __init__(self, *, design: str, cluster, session, checks, evidence, nodeid: str, variant: str | None = None):
        self.design = design
        self.cluster = cluster
        self.s = session
        self.h = session.history
        self.thresholds = session.thresholds
        self.checks_fx = checks
        self.evidence = evidence
        self.nodeid = nodeid
        self.variant = variant
        self.outcome = Outcome(design, variant)
        digest = hashlib.sha1(f"{session.run.run_id}:{nodeid}".encode()).hexdigest()[:6]
        self.tag = f"{digest}{next(_counter)}"
        self.scenarios: list[Scenario] = []

    # -- running ------------------------------------------------------------------------------
    def scenario(self, **kw) -> Scenario:
        kw.setdefault("converge_s", self.thresholds["converge_s"])
        sc = Scenario(self.cluster, self.h, seed=self.s.seed, tag=f"{self.tag}x{len(self.scenarios)}",
                      progress=self.s.progress, **kw)
        self.scenarios.append(sc)
        return sc

    def check(self, name: str, sc: Scenario | None = None, **options) -> dict:
        """Run a checker on this test's history (within the scenario's window when given)."""
        if name in ("messages", "replicas") and sc is not None:
            options.setdefault("prefix", f"mh-{sc.tag}-")
        res = self.checks_fx.run(name, design=self.design, window=sc.window if sc else None, **options)
        key = name if name not in self.outcome.checks else f"{name}#{len(self.outcome.checks)}"
        self.outcome.checks[key] = res
        return res

    def faults_applied(self, sc: Scenario) -> None:
        """Every fault of the scenario was applied and healed, or the test fails here: a fault
        that did not happen must never let a claim pass."""
        f = self.check("faults", sc)
        if f["valid"] != "pass":
            raise AssertionError(f"a fault was not applied or healed: {f.get('reasons')}")

    @property
    def min_ok(self) -> int:
        return int(self.thresholds["min_ok_ops"])

    # -- verdicts -----------------------------------------------------------------------------
    def claim(self, claim: str, measured: str, *, numbers: dict | None = None, reasons: list[str] | None = None,
              checks: list[str] | None = None) -> ClaimResult:
        catalogue().get(self.design, claim)  # unknown claim names fail loudly
        prev = self.outcome.results.get(claim)
        r = ClaimResult(claim, measured, numbers or {}, [x for x in (reasons or []) if x], checks or [])
        if prev:  # the same claim evidenced twice in one test: the weaker measurement stands
            worse = prev if _weight(prev.measured) <= _weight(measured) else r
            r = ClaimResult(claim, worse.measured, {**prev.numbers, **r.numbers}, prev.reasons + r.reasons,
                            sorted(set(prev.checks + r.checks)))
        self.outcome.results[claim] = r
        return r

    def finish(self, outcome: str | None = None) -> Outcome:
        """Record the evidence of every claim measured. ``outcome``: the driver's own outcome when
        no pytest report will give it (the chaos runner)."""
        for cid, r in self.outcome.results.items():
            self.evidence.record(self.design, cid, r.measured, numbers=r.numbers, note=r.note,
                                 checks=r.checks, variant=self.variant, outcome=outcome)
        return self.outcome


def _weight(measured: str) -> int:
    """How weak a measurement is when one claim is evidenced twice: a violation seen ("No") stands
    whatever else was unknown; otherwise ``unknown`` (not decided) is below Some and Yes."""
    return {"No": -2, "unknown": -1}.get(measured, ORDER.get(measured, -1))


def gaps(avail: dict, bound: float, label: str, what: str = "without service") -> tuple[dict, list[str]]:
    """Per protocol of an ``availability`` result: the longest gap as a number against ``bound``
    (``<proto>_gap_<label>``) and a reason for each protocol over it."""
    nums, reasons = {}, []
    for proto, d in sorted((avail.get("protos") or {}).items()):
        gap = (d.get("longest_gap") or {}).get("value")
        nums[f"{proto}_gap_{label}"] = num(gap, "s", bound)
        if not within(gap, bound):
            at = d.get("longest_gap_at") or {}
            where = f" (from t={at.get('start')}, {at.get('before')} -> {at.get('after')})" if at else ""
            reasons.append(f"{proto}: {gap} s {what}{where}")
    return nums, reasons


def verdict(ok: bool, unknown: bool = False, partial: bool = False) -> str:
    """Yes / Some / No / unknown from a check's outcome."""
    if unknown:
        return "unknown"
    if ok:
        return "Yes"
    return "Some" if partial else "No"


def from_check(result: dict) -> str:
    """A checker's pass / fail / unknown as a claim value."""
    return {"pass": "Yes", "fail": "No"}.get(result.get("valid"), "unknown")
