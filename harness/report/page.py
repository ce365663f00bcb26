"""The HTML report as one self-contained page: inline CSS, inline SVG, no scripts, no fetches."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from .. import __version__
from ..claims import AGREEMENTS, catalogue
from ..errors import EXIT_HARNESS, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATED
from ..thresholds import THRESHOLDS
from . import charts, evidence, facts, matrix
from .data import Run, fault_windows, test_spans
from .util import AGREE, OUTCOME, e, short_test

CSS = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")
VERDICT = {
    EXIT_OK: ("v-ok", "✓", "All certified claims hold"),
    EXIT_VIOLATED: ("v-bad", "✗", "Claims violated"),
    EXIT_HARNESS: ("v-err", "!", "Harness error: part of the run could not be carried out"),
    EXIT_USAGE: ("v-err", "!", "Usage error"),
    EXIT_UNKNOWN: ("v-unk", "?", "Nothing violated, but some verdicts are unknown"),
}


def _header(summary: dict, runs: list[Run]) -> str:
    cat = catalogue()
    cls, sym, text = VERDICT.get(summary["exit_code"], VERDICT[EXIT_HARNESS])
    measured = sum(summary["counts"].get(a, 0) for a in AGREEMENTS if a != "not certified")
    if summary["exit_code"] == EXIT_OK and not measured:
        cls, sym, text = "v-unk", "–", "No claim was measured in this run"
    m = runs[0].meta if runs else {}
    if len(runs) == 1:
        sub = (f'run <code>{e(runs[0].run_id)}</code> · started {e(facts.when(m.get("started")))} · '
               f'{e(facts.dur(m.get("duration_s")) if m.get("duration_s") is not None else "did not finish")} · '
               f'host {e((m.get("host") or {}).get("hostname", "?"))} · seed {e(m.get("seed"))}')
    else:
        sub = f'merged from {len(runs)} runs: ' + ", ".join(f"<code>{e(r.run_id)}</code>" for r in runs)
    reasons = "".join(f'<li><span class="rc">exit {r["exit_code"]}</span> {e(r["text"])}</li>' for r in summary["reasons"]) \
        or ("<li>Every claim measured in this run agrees with (or exceeds) its claim, or confirms a limitation the "
            "sheet discloses.</li>" if measured else
            "<li>No test recorded a claim measurement, so every cell is <i>not certified</i>.</li>")
    c = summary["counts"]
    chips = "".join(f'<li class="t-{AGREE[a][0]}"><b>{c.get(a, 0)}</b> <span aria-hidden="true">{AGREE[a][1]}</span> {e(AGREE[a][2])}</li>'
                    for a in AGREEMENTS if c.get(a) or a not in ("confirmed", "review"))
    nr = [d for d in cat.design_ids() if d not in summary["designs_in_run"]]
    if nr:
        chips += f'<li class="t-plain">{len(nr)} of {len(cat.designs)} designs not certified in this run</li>'
    t = summary["tests"]
    chips += (f'<li class="t-plain">tests: {t["passed"]} passed · {t["failed"]} failed · {t["error"]} errors · '
              f'{t["skipped"]} skipped' + (f' · {t["xfailed"]} expected failures' if t.get("xfailed") else "") + '</li>')
    return (f'<header class="top"><div class="wrap"><div class="brand">mailha compliance report</div>'
            f'<h1>{e(cat.source.split(",")[0] or "Claims")}: claimed vs measured</h1><p class="sub">{sub}</p>'
            f'<div class="verdictrow"><div class="verdict {cls}"><span class="big"><span aria-hidden="true">{sym}</span> {e(text)}</span>'
            f'<span class="code">exit code {summary["exit_code"]} · {e(summary["exit_meaning"])}</span></div>'
            f'<ul class="reasons">{reasons}</ul></div><ul class="counts" aria-label="claims of the designs in this run">{chips}</ul>'
            f'</div></header>')


def _legend_tl(variants: bool = False) -> str:
    return ('<figcaption class="legend"><span><i class="sw up"></i>probes answered</span>'
            '<span><i class="sw down"></i>outage: from the last successful probe to the next, with failures between</span>'
            '<span><i class="sw info"></i>outcome unknown</span><span><i class="sw fault"></i>fault window (applied → healed)</span>'
            '<span><i class="sw two"></i>two VIP holders (split brain)</span>'
            + ('<span><i class="sw variant"></i>test against a broken variant</span>' if variants else '')
            + '<span><b class="t-bad">✗</b> failed operation</span><span><b class="t-unk">◆</b> unknown outcome</span>'
            '<span>hover any mark for its exact times and errors</span></figcaption>')


def _variant_name(nodeid: str) -> str:
    """``...caught_with_the_claim_it_breaks[no-health-check]`` -> ``no-health-check``."""
    return nodeid.rpartition("[")[2].rstrip("]") if nodeid.endswith("]") else short_test(nodeid).split("::")[-1]


def _design_section(design: str, summary: dict, runs: list[Run], by_key: dict, prefixes: dict, merged: bool) -> str:
    cat = catalogue()
    d = cat.designs.get(design, {})
    cells = [c for c in summary["cells"] if c["design"] == design]
    cnt = summary["counts_by_design"].get(design, {})
    chips = " ".join(f'<span class="badge b-{AGREE[a][0]}"><span aria-hidden="true">{AGREE[a][1]}</span> {cnt.get(a, 0)} {e(AGREE[a][2])}</span>'
                     for a in AGREEMENTS if cnt.get(a))
    parts = [f'<section class="panel design" id="design-{design}"><h2><span class="num">{e(d.get("numeral", ""))}</span>'
             f'{e(d.get("title", design))}</h2><p class="dsum">{chips}</p>']
    for run in runs:
        evs = run.design_events(design)
        if not evs:
            continue
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
        if merged:
            parts.append(f'<h3>Run <code>{e(run.run_id)}</code></h3>')
        title = f"Availability of {d.get('title', design)} over the run, per protocol"
        tl, _ = charts.timeline_svg(evs, faults, sc, spans, title, exclude_tests=variant_tests)
        excl = (' Tests against deliberately broken variants (hatched purple in the tests lane) are drawn too, '
                'but the figures at the right cover only the cluster under certification.' if variant_tests else '')
        parts.append(f'<div class="chartbox"><h4>Availability timeline</h4><p class="cap">Probes through the client endpoint '
                     f'(one new connection per probe), the VIP holder, mail sent and long-lived sessions; '
                     f'fault windows shaded and labelled.{excl}</p><figure>{tl}{_legend_tl(bool(variant_tests))}</figure></div>')
        lat = charts.latency_svg(evs, faults, sc)
        if lat:
            parts.append(f'<div class="chartbox"><h4>Probe latency</h4><p class="cap">Time from connect to a complete answer '
                         f'for successful probes; the slowest per 2-pixel column is drawn so spikes stay visible.</p>{lat}</div>')
        thr = ((run.meta.get("options") or {}).get("thresholds") or {}).get("lag_p99_s", THRESHOLDS["lag_p99_s"].default)
        lag = charts.lag_svg(evs, faults, sc, thr)
        if lag:
            parts.append(f'<div class="chartbox"><h4>Replication lag</h4><p class="cap">Time from a message being visible on one '
                         f'node to visible on the other; dotted lines mark when the replicas were identical again. '
                         f'The dashed line is the steady-state bound (p99).</p>{lag}</div>')
        parts.append("<h3>Faults</h3>" + evidence.faults_table(faults, {}, merged))
        errs = evidence.errors_table(evs)
        if errs:
            parts.append("<h3>Errors seen by clients</h3>" + errs)
    rows = [c for c in cells if c["kind"] == "row"]
    prose = [c for c in cells if c["kind"] == "prose"]
    parts.append("<h3>Seed table claims: evidence</h3><div class=\"cards\">"
                 + "".join(evidence.cell_card(c, by_key, prefixes, merged) for c in rows) + "</div>")
    parts.append(f'<h3 id="prose-{design}">Prose claims: evidence</h3><div class="cards">'
                 + "".join(evidence.cell_card(c, by_key, prefixes, merged) for c in prose) + "</div>")
    parts.append(evidence.variants_table([v for v in summary.get("variants", []) if v["design"] == design], by_key))
    parts.append("</section>")
    return "".join(parts)


def _legend() -> str:
    items = [
        ("agree", "the measurement equals the claimed value"),
        ("exceeds", "the measurement is better than claimed (e.g. claimed Some, measured Yes)"),
        ("confirmed", "the sheet claims No (a limitation it discloses) and the run measured No"),
        ("review", "the sheet claims No but the run measured better: not a violation, but flagged, since the sheet "
                   "undersells or the test did not exercise the limitation"),
        ("disagree", "the measurement is below the claim: the claim is violated"),
        ("unknown", "the evidence could not decide (too few operations, a check could not run), or only part of it could"),
        ("not certified", "no test in the run measured it; never shown as passing"),
    ]
    rows = "".join(f'<div><span class="badge b-{AGREE[a][0]}"><span aria-hidden="true">{AGREE[a][1]}</span> {e(AGREE[a][2])}</span> '
                   f'{e(t)}</div>' for a, t in items)
    return (f'<div class="legendgrid">{rows}</div><p>Measured values are ordered <b>No &lt; Some &lt; Yes</b>. Several '
            f'measurements of one claim (two tests, or merged runs) combine to the weakest; when some could not decide, the cell '
            f'cannot agree and stays unknown. A <b>No</b> in the seed is a claim too: it is certified with evidence (e.g. which '
            f'users lose access when a proxy back end dies). Evidence is recorded before a test\'s own asserts, so it counts '
            f'by the test\'s outcome: only a test that passed can make a cell agree, exceed or confirm; a test that failed, '
            f'errored or failed as expected (xfail), or whose outcome is unknown, counts only when it shows a violation; a '
            f'skipped test does not count. Every number is shown next to the threshold it was held against; '
            f'thresholds are listed under run facts and can be set with <code>--mailha-threshold NAME=VALUE</code>.</p>'
            f'<p>Exit codes: 0 every checked claim agrees, exceeds or confirms a disclosed limitation (claims to review are '
            f'listed among the reasons) · 1 a claim is violated or a test failed · 2 usage error · '
            f'3 harness error (a test errored, a cluster did not come up, a fault was not applied, the run did not finish) · '
            f'4 nothing violated but some verdicts unknown.</p>')


def render(summary: dict, runs: list[Run], prefixes: dict[str, str]) -> str:
    cat = catalogue()
    merged = len(runs) > 1
    by_key = {r.key: r for r in runs}
    in_run = summary["designs_in_run"]
    designs = "".join(_design_section(d, summary, runs, by_key, prefixes, merged) for d in in_run)
    not_run = [d for d in cat.design_ids() if d not in in_run]
    others = ""
    if not_run:
        others = ('<section class="panel" id="not-run"><h2>Designs not certified in this run</h2><p class="lead">Their '
                  'claims are listed with what mailha would measure; run their suites (or merge their runs with '
                  '<code>mailha report --merge</code>) to certify them.</p>'
                  + "".join(evidence.prose_not_run(d, summary["cells"]) for d in not_run) + "</section>")
    fact_parts = []
    for r in runs:
        if merged:
            fact_parts.append(f'<h3>Run <code>{e(r.run_id)}</code></h3>')
        fact_parts.append(facts.run_facts(r, prefixes.get(r.key, "")))
    problems = ""
    if summary.get("problems"):
        problems = '<ul class="problems">' + "".join(f"<li>{e(p)}</li>" for p in summary["problems"]) + "</ul>"
    nav = ['<a href="#matrix">Claims matrix</a>']
    nav += [f'<a href="#design-{d}">{e(cat.designs[d]["numeral"])} · {e(d.replace("_", " "))}</a>' for d in in_run]
    if not_run:
        nav.append('<a href="#not-run">Not certified in this run</a>')
    nav += ['<a href="#tests">Tests</a>', '<a href="#facts">Run facts</a>', '<a href="#legend">How to read this</a>']
    title = f"mailha report · {', '.join(r.run_id for r in runs) or 'empty run'}"
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="mailha {e(__version__)}">'
            f'<title>{e(title)}</title><style>{CSS}</style></head><body>'
            f'{_header(summary, runs)}<nav class="toc" aria-label="sections"><div class="wrap">{"".join(nav)}</div></nav>'
            f'<main class="wrap">'
            f'<section class="panel" id="matrix"><h2>Claims matrix</h2><p class="lead">Each cell: the value the product sheet '
            f'claims (with its qualifier as written), what this run measured, and whether they agree. Click a cell for its '
            f'evidence. Cells no test measured say <i>not certified</i>; they are never shown as passing.</p>'
            f'{matrix.render(summary)}{problems}</section>'
            f'{designs}{others}'
            f'<section class="panel" id="tests"><h2>Tests</h2>{evidence.tests_section(runs, summary, prefixes)}</section>'
            f'<section class="panel" id="facts"><h2>Run facts</h2>{"".join(fact_parts)}</section>'
            f'<section class="panel" id="legend"><h2>How to read this report</h2>{_legend()}</section>'
            f'</main><footer><div class="wrap">Generated by mailha {e(__version__)} on {e(generated)} from the stored run '
            f'files; <code>mailha report</code> re-renders it, <code>mailha analyze</code> re-runs its checks.</div></footer>'
            f'</body></html>')
