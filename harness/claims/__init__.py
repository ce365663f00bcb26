"""The seed's claims as data, and how evidence turns into a verdict per claim.

Claims are named ``(design, claim)`` where claim is a table row
(``processing_redundancy``, ``data_redundancy``, ``load_sharing``, ``smtp``, ``pop``,
``imap``, ``webmail``) or a prose claim id of that design (``failover_no_interruption``...).

Measured values are ordered No < Some < Yes. A cell *agrees* when the measurement equals the
claim (``exceeds`` when above it), *disagrees* when below, is ``unknown`` when the evidence
could not decide, and ``not certified`` when no test in the run evidenced it. A claimed "No"
is a limitation the sheet discloses: measured No *confirms* it (``confirmed``), measured above
it is flagged for ``review`` (the sheet undersells, or the test did not exercise the
limitation). Never green by default.

Each evidence record counts according to the outcome of the test that recorded it
(``counted``): evidence is written before a test's own asserts, so only a test that passed can
make a cell agree, exceed or confirm; a test that failed, errored, failed as expected (strict
xfail) or whose outcome is unknown can still show a violation; a skipped test's record does
not count.

Several measurements of one claim (two tests, or two merged runs) combine to the weakest
known value. When some of them are ``unknown`` the cell is *partial*: it can still disagree
(a violation seen once is a violation), but it cannot agree, so it stays ``unknown``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("claims.yaml")
ORDER = {"No": 0, "Some": 1, "Yes": 2}
VALUES = ("Yes", "Some", "No", "unknown")
# outcome of the test that recorded a piece of evidence (junit.xml for pytest, the chaos runner's own)
OUTCOMES = ("passed", "failed", "error", "xfailed", "skipped", "expected-disagreement")
AGREEMENTS = ("agree", "exceeds", "confirmed", "review", "disagree", "unknown", "not certified")


@dataclass(frozen=True)
class Claim:
    design: str
    id: str
    kind: str            # "row" or "prose"
    label: str           # row label, or the prose id made readable
    value: str           # claimed: Yes / Some / No (prose claims are claimed "Yes")
    as_written: str      # qualifier or quote as the seed writes it
    measure: str         # what mailha measures for it
    group: str = ""      # table rows grouped under a heading ("Use of basic mail features")

    @property
    def key(self) -> str:
        return f"{self.design}.{self.id}"


@dataclass
class Catalogue:
    designs: dict
    rows: dict
    prose: dict
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)
    source: str = ""
    named_only: list[dict] = field(default_factory=list)   # [{title, note}]: named by the sheet, never described

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

    def design_ids(self) -> list[str]:
        """The designs in the seed's order (I to V)."""
        return list(self.designs)

    def design_title(self, design: str) -> str:
        d = self.designs.get(design) or {}
        return f"{d.get('numeral', '?')} · {d.get('title', design)}"


def _value(v) -> str:
    """A claimed value; YAML 1.1 reads unquoted Yes/No as booleans, so map them back."""
    if v is True:
        return "Yes"
    if v is False:
        return "No"
    return str(v)


def _named_only(items) -> list[dict]:
    """Architectures the sheet names but never describes: [{title, note}], nothing to certify."""
    out = []
    for i, it in enumerate(items or []):
        if not isinstance(it, dict) or not it.get("title") or not it.get("note"):
            raise ValueError(f"claims.yaml: named_only[{i}] needs a title and a note")
        out.append({"title": str(it["title"]), "note": str(it["note"])})
    return out


@lru_cache(maxsize=None)
def catalogue(path: Path = DATA) -> Catalogue:
    doc = yaml.safe_load(Path(path).read_text())
    cat = Catalogue(designs=doc["designs"], rows=doc["rows"], prose=doc.get("prose") or {},
                    source=str(doc.get("source", "")), named_only=_named_only(doc.get("named_only")))
    for row_id, row in doc["rows"].items():
        for design, c in row["claims"].items():
            value = _value(c["value"])
            if value not in ORDER:
                raise ValueError(f"claims.yaml: {design}.{row_id} value {value!r} is not Yes/Some/No")
            cat.claims[(design, row_id)] = Claim(design, row_id, "row", row["label"], value,
                                                 str(c.get("as_written") or value), row.get("meaning", ""),
                                                 str(row.get("group", "")))
    for design, items in (doc.get("prose") or {}).items():
        for pid, p in items.items():
            if (design, pid) in cat.claims:
                raise ValueError(f"claims.yaml: prose id {design}.{pid} clashes with a table row")
            cat.claims[(design, pid)] = Claim(design, pid, "prose", str(p.get("title") or pid.replace("_", " ")), "Yes",
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
    """Several measurements of one claim -> (value, partial). The weakest known value wins;
    partial when some measurements are unknown."""
    known = [m for m in measured if m in ORDER]
    if not known:
        return "unknown", False
    worst = min(known, key=lambda m: ORDER[m])
    return worst, len(known) < len(measured)


def counted(claimed: str, measured: str | None, outcome: str | None) -> str | None:
    """What one evidence record counts as in its cell, given the outcome of the test that recorded it.

    - ``passed``: its measurement.
    - ``failed``, ``error``, ``xfailed`` (an expected failure), or an unknown outcome (None or
      any value outside OUTCOMES: no junit.xml, a test junit.xml does not list, a driver that did not
      say): its measurement when it is below the claim (a violation seen is a violation, and a strict
      expected failure that measured the claim not kept shows it as such); otherwise ``unknown``, since
      the test's own asserts may have failed after the record was written, so it can never make a cell
      agree, exceed or confirm.
    - ``skipped``: None, it does not count at all.
    - ``expected-disagreement``: a strict expected failure whose cause was ``ExpectedDisagreement``
      (harness.certification): raised only after every other claim of the test held, so each record
      counts as its measurement, like a pass (the disagreeing claims disagree, the others agree).
    """
    if outcome == "skipped":
        return None
    if measured not in ORDER:
        return "unknown"
    if outcome in ("passed", "expected-disagreement") or ORDER[measured] < ORDER[claimed]:
        return measured
    return "unknown"


def agreement(claimed: str, measured: str | None, partial: bool = False) -> str:
    """agree / exceeds / confirmed / review / disagree / unknown / not certified.

    ``measured`` is the combined value of the records that count (``combine`` over ``counted``),
    None when none counts. Below the claim disagrees, also when partial. A claimed "No" measured No
    is ``confirmed`` (the disclosed limitation was seen, also when partial); measured above a claimed
    "No" is ``review``, never plain green. Otherwise a partial measurement is ``unknown``."""
    if measured is None:
        return "not certified"
    if measured not in ORDER:
        return "unknown"
    if ORDER[measured] < ORDER[claimed]:
        return "disagree"
    if claimed == "No" and measured == "No":
        return "confirmed"
    if partial:
        return "unknown"  # the known measurements satisfy the claim, the others could not decide
    if claimed == "No":
        return "review"
    return "agree" if ORDER[measured] == ORDER[claimed] else "exceeds"


def _discounted(evidence: list[dict]) -> list[dict]:
    """Records whose measurement did not count because their test did not pass."""
    return [e for e in evidence if e.get("counts_as") == "unknown" and e.get("measured") in ORDER]


_DID = {"failed": "failed", "error": "errored", "xfailed": "failed as expected", None: "has no known outcome"}


def reason(claimed: str, measured: str | None, partial: bool, evidence: list[dict]) -> str:
    """One sentence saying why a cell has its agreement label (``evidence`` as ``verdicts`` marks it)."""
    if measured is None:
        if evidence:
            return "its only measurements came from skipped tests, which do not count"
        return "no test in this run evidenced this claim"
    used = [e for e in evidence if e.get("counts_as", e.get("measured")) is not None]
    n = len(used)
    unknown = sum(1 for e in used if e.get("counts_as", e.get("measured")) not in ORDER)
    of = f"{n} measurement{'s' if n != 1 else ''}"
    skipped = len(evidence) - n
    tail = f"; {skipped} from skipped tests not counted" if skipped else ""
    disc = _discounted(used)
    if disc:
        how = sorted({_DID.get(e.get("outcome"), _DID[None]) for e in disc})
        why = (f" ({len(disc)} from a test that {' or '.join(how)}: such a measurement can show a violation but "
               f"cannot make a claim hold)")
    else:
        why = ""
    if measured not in ORDER:
        return f"{of}, none could decide{why or ' (too little evidence or the check could not run)'}{tail}"
    a = agreement(claimed, measured, partial)
    if a == "disagree":
        return f"claimed {claimed}, measured {measured} ({of}; the weakest counts){tail}"
    if a == "confirmed":
        return f"claimed No, measured No: the limitation the sheet discloses is confirmed ({of}){tail}"
    if a == "unknown":
        return f"{unknown} of {of} could not decide{why}; the others measured {measured}{tail}"
    if a == "review":
        return (f"claimed No, measured {measured}: better than the sheet discloses; review whether the test "
                f"exercised the limitation ({of}){tail}")
    if a == "exceeds":
        return f"claimed {claimed}, measured {measured}: better than claimed ({of}){tail}"
    return f"claimed {claimed}, measured {measured} ({of}){tail}"


def verdicts(evidence: list[dict], designs: list[str] | None = None) -> list[dict]:
    """One cell per claim of the given designs: claimed, measured, agreement and the evidence.

    Each evidence dict is ``{design, claim, test, measured, ...}`` plus ``outcome`` (one of OUTCOMES,
    absent or None when unknown); the cell's evidence is a copy of each with ``counts_as`` (``counted``)."""
    cat = catalogue()
    by_claim: dict[tuple[str, str], list[dict]] = {}
    for ev in evidence:
        by_claim.setdefault((ev["design"], ev["claim"]), []).append(ev)
    cells = []
    for (design, cid), claim in cat.claims.items():
        if designs is not None and design not in designs:
            continue
        evs = [{**e, "counts_as": counted(claim.value, e.get("measured"), e.get("outcome"))}
               for e in by_claim.get((design, cid), [])]
        used = [e["counts_as"] for e in evs if e["counts_as"] is not None]
        if used:
            measured, partial = combine(used)
        else:
            measured, partial = None, False
        cells.append({"design": design, "claim": cid, "kind": claim.kind, "label": claim.label,
                      "group": claim.group, "claimed": claim.value, "as_written": claim.as_written,
                      "measure": claim.measure, "measured": measured, "partial": partial,
                      "agreement": agreement(claim.value, measured, partial),
                      "reason": reason(claim.value, measured, partial, evs), "evidence": evs})
    return cells
