"""The claims matrix: the seed's table, rows × the five designs, claimed vs measured; under it,
one line per architecture the sheet names but never describes (``named_only`` in claims.yaml).

``view(summary)`` gathers what the matrix shows; ``templates/matrix.html.j2`` draws it."""
from __future__ import annotations

from ..claims import catalogue
from .util import slug

# the order in which a design's prose claims are counted in the matrix's last row
PROSE_ORDER = ("disagree", "unknown", "review", "agree", "confirmed", "exceeds", "not certified")
# the colour of that cell: the worst agreement among them (green only when every one holds)
PROSE_WORST = ("disagree", "unknown", "not certified", "review", "agree", "confirmed", "exceeds")


def cell_id(design: str, claim: str) -> str:
    return f"cell-{design}-{claim}"


def qualifier(c: dict) -> str:
    """The seed's qualifier as written after the claimed value ("" when there is none)."""
    w, head = c["as_written"], c["claimed"]
    return w[len(head):].strip() if w.startswith(head) else ("" if w == head else w)


def _prose(design: str, summary: dict, in_run: bool) -> dict:
    pc = [c for c in summary["cells"] if c["design"] == design and c["kind"] == "prose"]
    counts = [(a, n) for a in PROSE_ORDER if (n := sum(1 for c in pc if c["agreement"] == a))]
    worst = next((a for a in PROSE_WORST if any(c["agreement"] == a for c in pc)), "not certified")
    return {"design": design, "in_run": in_run, "total": len(pc), "counts": counts,
            "worst": worst if in_run else "not certified"}


def view(summary: dict) -> dict:
    """What the matrix shows: its header, its rows (group rows and claim rows), the prose row."""
    cat = catalogue()
    cells = {(c["design"], c["claim"]): c for c in summary["cells"]}
    designs = cat.design_ids()
    in_run = set(summary["designs_in_run"])
    rows: list[dict] = []
    group = None
    for rid, row in cat.rows.items():
        g = row.get("group", "")
        if g and g != group:
            rows.append({"group": g})
        group = g
        rows.append({"group": None, "label": row["label"], "meaning": row.get("meaning", ""),
                     "cells": [{**cells[(d, rid)], "qualifier": qualifier(cells[(d, rid)])}
                               for d in designs if (d, rid) in cells]})
    head = [{"design": d, "in_run": d in in_run, "numeral": cat.designs.get(d, {}).get("numeral", ""),
             "title": cat.designs.get(d, {}).get("title", d)} for d in designs]
    return {"id": slug("matrix"), "source": cat.source, "head": head, "rows": rows,
            "prose": [_prose(d, summary, d in in_run) for d in designs], "named_only": cat.named_only}


def render(summary: dict) -> str:
    from .templating import macro

    return macro("matrix.html.j2", "matrix")(view(summary))
