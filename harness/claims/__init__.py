"""The seed's claims as data, and how evidence turns into a verdict per claim.

Claims are named ``(design, claim)`` where claim is a table row
(``processing_redundancy``, ``data_redundancy``, ``load_sharing``, ``smtp``, ``pop``,
``imap``, ``webmail``) or a prose claim id of that design (``failover_no_interruption``...).

Measured values are ordered No < Some < Yes. A cell *agrees* when the measurement is at least
the claim (``exceeds`` when above it), *disagrees* when below, is ``unknown`` when the evidence
could not decide, and ``not certified`` when no test in the run evidenced it. Never green by default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("claims.yaml")
ORDER = {"No": 0, "Some": 1, "Yes": 2}
VALUES = ("Yes", "Some", "No", "unknown")


@dataclass(frozen=True)
class Claim:
    design: str
    id: str
    kind: str            # "row" or "prose"
    label: str           # row label, or the prose id made readable
    value: str           # claimed: Yes / Some / No (prose claims are claimed "Yes")
    as_written: str      # qualifier or quote as the seed writes it
    measure: str         # what mailha measures for it

    @property
    def key(self) -> str:
        return f"{self.design}.{self.id}"


@dataclass
class Catalogue:
    designs: dict
    rows: dict
    prose: dict
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)

    def get(self, design: str, claim: str) -> Claim:
        try:
            return self.claims[(design, claim)]
        except KeyError:
            if design not in self.designs:
                raise KeyError(f"unknown design {design!r} in a claim; designs: {', '.join(self.designs)}") from None
            known = [c for (d, c) in self.claims if d == design]
            raise KeyError(f"unknown claim {claim!r} for design {design!r}; known: {', '.join(known)}") from None

    def for_design(self, design: str) -> list[Claim]:
        return [c for (d, _), c in self.claims.items() if d == design]

    def row_ids(self) -> list[str]:
        return list(self.rows)


@lru_cache(maxsize=None)
def catalogue(path: Path = DATA) -> Catalogue:
    doc = yaml.safe_load(Path(path).read_text())
    cat = Catalogue(designs=doc["designs"], rows=doc["rows"], prose=doc.get("prose") or {})
    for row_id, row in doc["rows"].items():
        for design, c in row["claims"].items():
            value = str(c["value"])
            if value not in ORDER:
                raise ValueError(f"claims.yaml: {design}.{row_id} value {value!r} is not Yes/Some/No")
            cat.claims[(design, row_id)] = Claim(design, row_id, "row", row["label"], value,
                                                 str(c.get("as_written", value)), row.get("meaning", ""))
    for design, items in (doc.get("prose") or {}).items():
        for pid, p in items.items():
            if (design, pid) in cat.claims:
                raise ValueError(f"claims.yaml: prose id {design}.{pid} clashes with a table row")
            cat.claims[(design, pid)] = Claim(design, pid, "prose", pid.replace("_", " "), "Yes",
                                              p["quote"], p.get("measure", ""))
    return cat


def validate_marker(args: tuple) -> list[tuple[str, str]]:
    """``claim(design, claim, ...)`` marker args -> [(design, claim)]; KeyError/ValueError if unknown."""
    if len(args) < 2:
        raise ValueError("the claim marker needs a design and at least one claim: claim('mirror', 'data_redundancy')")
    design, names = args[0], args[1:]
    cat = catalogue()
    return [(cat.get(design, n).design, n) for n in names]


def combine(measured: list[str]) -> tuple[str, bool]:
    """Several measurements of one claim -> (value, partial). The weakest known value wins."""
    known = [m for m in measured if m in ORDER]
    if not known:
        return "unknown", False
    worst = min(known, key=lambda m: ORDER[m])
    return worst, len(known) < len(measured)


def agreement(claimed: str, measured: str | None) -> str:
    """agree / exceeds / disagree / unknown / not certified."""
    if measured is None:
        return "not certified"
    if measured not in ORDER:
        return "unknown"
    if ORDER[measured] == ORDER[claimed]:
        return "agree"
    return "exceeds" if ORDER[measured] > ORDER[claimed] else "disagree"


def verdicts(evidence: list[dict], designs: list[str] | None = None) -> list[dict]:
    """One cell per claim of the given designs: claimed, measured, agreement and the evidence."""
    cat = catalogue()
    by_claim: dict[tuple[str, str], list[dict]] = {}
    for ev in evidence:
        by_claim.setdefault((ev["design"], ev["claim"]), []).append(ev)
    cells = []
    for (design, cid), claim in cat.claims.items():
        if designs is not None and design not in designs:
            continue
        evs = by_claim.get((design, cid), [])
        if evs:
            measured, partial = combine([e.get("measured", "unknown") for e in evs])
        else:
            measured, partial = None, False
        cells.append({"design": design, "claim": cid, "kind": claim.kind, "label": claim.label,
                      "claimed": claim.value, "as_written": claim.as_written, "measure": claim.measure,
                      "measured": measured, "partial": partial, "agreement": agreement(claim.value, measured),
                      "evidence": evs})
    return cells
