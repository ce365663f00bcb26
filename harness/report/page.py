"""The HTML report as one self-contained page: inline CSS, inline SVG, no scripts, no fetches.

``render`` gathers what the page shows (the header's verdict, the matrix, one view per design
with its charts drawn here as SVG, the tests, the run facts) and fills ``templates/page.html.j2``,
which holds the page's structure; each section's markup is in the template it names.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from markupsafe import Markup

from .. import __version__
from ..claims import AGREEMENTS, catalogue
from ..errors import EXIT_HARNESS, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATED
from ..thresholds import THRESHOLDS
from . import charts, evidence, facts, matrix
from .data import Run, fault_windows, test_spans
from .templating import render as render_template
from .util import OUTCOME, short_test

CSS = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")
VERDICT = {
    EXIT_OK: ("v-ok", "✓", "All certified claims hold"),
    EXIT_VIOLATED: ("v-bad", "✗", "Claims violated"),
    EXIT_HARNESS: ("v-err", "!", "Harness error: part of the run could not be carried out"),
    EXIT_USAGE: ("v-err", "!", "Usage error"),
    EXIT_UNKNOWN: ("v-unk", "?", "Nothing violated, but some verdicts are unknown"),
}


def header_view(summary: dict, runs: list[Run]) -> dict:
    """The verdict (class, symbol, text), its reasons and the counts of the designs in the run."""
    cat = catalogue()
    cls, sym, text = VERDICT.get(summary["exit_code"], VERDICT[EXIT_HARNESS])
    measured = sum(summary["counts"].get(a, 0) for a in AGREEMENTS if a != "not certified")
    if summary["exit_code"] == EXIT_OK and not measured:
        cls, sym, text = "v-unk", "–", "No claim was measured in this run"
    c = summary["counts"]
    return {"heading": cat.source.split(",")[0] or "Claims", "runs": runs, "cls": cls, "sym": sym, "text": text,
            "exit_code": summary["exit_code"], "exit_meaning": summary["exit_meaning"],
            "reasons": summary["reasons"], "measured": measured,
            # confirmed and review are shown only when there are some
            "counts": [(a, c.get(a, 0)) for a in AGREEMENTS if c.get(a) or a not in ("confirmed", "review")],
            "not_run": sum(1 for d in cat.design_ids() if d not in summary["designs_in_run"]),
            "designs": len(cat.designs), "tests": summary["tests"]}


def _variant_name(nodeid: str) -> str:
    """``...caught_with_the_claim_it_breaks[no-health-check]`` -> ``no-health-check``."""
    return nodeid.rpartition("[")[2].rstrip("]") if nodeid.endswith("]") else short_test(nodeid).split("::")[-1]


def _run_charts(design: str, run: Run, title: str) -> dict | None:
    """One run's charts of a design (SVG, as Markup), its faults and the errors clients saw."""
    evs = run.design_events(design)
    if not evs:
        return None
    t0 = min(x.t for x in evs)
    t1 = max(x.t for x in evs)
    end = max((x.t for x in run.events), default=t1)
    faults = [w for w in fault_windows(run.events, end) if w.get("design") in (design, None)]
    sc = charts.Scale(t0, max(t1, t0 + 1))
    spans = []
    outcomes = {t.nodeid: t.outcome for t in run.tests or []}
    fills = {"passed": "#d5f0dc", "failed": "#ffd8d3", "error": "#eddcff", "skipped": "#e6eaef", None: "#e6eaef"}
    # runs against deliberately broken variants: drawn, labelled, kept out of the figures
    variant_tests = frozenset(v.get("test") for v in run.variants if v.get("design") == design)
    for nodeid, (a, b) in test_spans(evs).items():
        o = outcomes.get(nodeid)
        sym = OUTCOME.get(o, OUTCOME[None])[1]
        broken = nodeid in variant_tests
        spans.append({"kind": "test", "start": a, "end": b if b is not None else t1,
                      "fill": "url(#hatch-variant)" if broken else fills.get(o, "#e6eaef"),
                      "label": f"{sym} broken variant {_variant_name(nodeid)}" if broken
                               else f"{sym} {short_test(nodeid).split('::')[-1]}",
                      "tip": f"{nodeid}: {o or 'no outcome'}, {a:.2f}–{(b if b is not None else t1):.2f} s"
                             + (" — a deliberately broken cluster, expected to break its claim; its operations are "
                                "drawn but left out of the figures at the right" if broken else "")})
    for op in charts.ops_of([x for x in evs if x.proc.startswith("harness")], "cluster-up"):
        b = op.end if op.end is not None else t1
        v = op.value if isinstance(op.value, dict) else {}
        spans.append({"kind": "cluster", "start": op.start, "end": b, "fill": "#dbe7f3" if op.type == "ok" else "#ffd8d3",
                      "label": f"bring-up {b - op.start:.1f} s" if op.type == "ok" else "bring-up FAILED",
                      "tip": f"cluster bring-up {op.type}: {b - op.start:.1f} s" + (f"; {op.error}" if op.error else "")
                             + (f" ({v.get('run_id')})" if v.get("run_id") else "")})
    tl, _ = charts.timeline_svg(evs, faults, sc, spans, title, exclude_tests=variant_tests)
    thr = ((run.meta.get("options") or {}).get("thresholds") or {}).get("lag_p99_s", THRESHOLDS["lag_p99_s"].default)
    lat = charts.latency_svg(evs, faults, sc)
    lag = charts.lag_svg(evs, faults, sc, thr)
    # the charts escape what they draw (util.e): they go into the page as they are
    return {"run_id": run.run_id, "timeline": Markup(tl), "variants": bool(variant_tests),
            "latency": Markup(lat) if lat else None, "lag": Markup(lag) if lag else None,
            "faults": faults, "errors": evidence.error_rows(evs)}


def design_view(design: str, summary: dict, runs: list[Run], by_key: dict, prefixes: dict) -> dict:
    """One design of the run: counts, each run's charts, the evidence cards, the broken variants."""
    d = catalogue().designs.get(design, {})
    cells = [c for c in summary["cells"] if c["design"] == design]
    cnt = summary["counts_by_design"].get(design, {})
    title = f"Availability of {d.get('title', design)} over the run, per protocol"
    return {"design": design, "numeral": d.get("numeral", ""), "title": d.get("title", design),
            "counts": [(a, cnt[a]) for a in AGREEMENTS if cnt.get(a)],
            "runs": [r for r in (_run_charts(design, run, title) for run in runs) if r],
            "row_cards": [evidence.card_view(c, by_key, prefixes) for c in cells if c["kind"] == "row"],
            "prose_cards": [evidence.card_view(c, by_key, prefixes) for c in cells if c["kind"] == "prose"],
            "variants": evidence.variants_view([v for v in summary.get("variants", []) if v["design"] == design], by_key)}


def render(summary: dict, runs: list[Run], prefixes: dict[str, str]) -> str:
    cat = catalogue()
    merged = len(runs) > 1
    by_key = {r.key: r for r in runs}
    in_run = summary["designs_in_run"]
    not_run = [d for d in cat.design_ids() if d not in in_run]
    nav = [("matrix", "Claims matrix")]
    nav += [(f"design-{d}", f'{cat.designs[d]["numeral"]} · {d.replace("_", " ")}') for d in in_run]
    if not_run:
        nav.append(("not-run", "Not certified in this run"))
    nav += [("tests", "Tests"), ("facts", "Run facts"), ("legend", "How to read this")]
    return render_template(
        "page.html.j2",
        version=__version__,
        title=f"mailha report · {', '.join(r.run_id for r in runs) or 'empty run'}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        css=Markup(CSS),  # our own file, inlined as it is
        h=header_view(summary, runs),
        nav=nav,
        matrix_view=matrix.view(summary),
        problems=summary.get("problems") or [],
        designs=[design_view(d, summary, runs, by_key, prefixes) for d in in_run],
        merged=merged,
        not_run=[evidence.not_run_view(d, summary["cells"]) for d in not_run],
        tests=evidence.tests_view(runs, summary, prefixes),
        facts=[(r.run_id if merged else None, facts.view(r, prefixes.get(r.key, ""))) for r in runs],
    )
