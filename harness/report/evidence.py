"""Evidence: per claim cell (tests, numbers against thresholds, checks, logs) and per test."""
from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from pathlib import Path

from ..claims import catalogue
from .data import Run, clusters_for, ops_of
from .matrix import cell_id
from .util import AGREE, OPS, OUTCOME, VALID, badge, e, href, num, pretty, short_test, slug, within

MAX_LOG_LINES = 40
MAX_LOG_BYTES = 20_000_000


def test_anchor(run: Run, nodeid: str) -> str:
    return "test-" + slug(run.key, nodeid)


def check_anchor(run: Run, index: int) -> str:
    return f"check-{run.key or 'r'}-{index}"


# -- numbers ----------------------------------------------------------------------------------
def number_row(name: str, n) -> str:
    """One measured number next to the threshold it was held against, with a text verdict."""
    if isinstance(n, dict) and "value" in n:
        unit = n.get("unit") or ""
        u = f" {unit}" if unit and unit not in ("", "ratio") else ""
        val = f"{num(n.get('value'))}{u}"
        thr = n.get("threshold")
        if thr is None:
            return f'<tr><th scope="row">{e(pretty(name))}</th><td class="v">{e(val)}</td><td class="muted">–</td><td></td></tr>'
        op = n.get("op", "<=")
        ok = within(n.get("value"), thr, op)
        res = ('<span class="t-ok">✓ within</span>' if ok else '<span class="t-bad">✗ outside</span>' if ok is False
               else '<span class="t-unk">? no value</span>')
        return (f'<tr><th scope="row">{e(pretty(name))}</th><td class="v">{e(val)}</td>'
                f'<td>{e(OPS.get(op, op))} {e(num(thr))}{e(u)}</td><td>{res}</td></tr>')
    if isinstance(n, dict):
        flat = " · ".join(f"{k} {num(v)}" for k, v in n.items() if not isinstance(v, (dict, list)))
        return f'<tr><th scope="row">{e(pretty(name))}</th><td class="v" colspan="3">{e(flat)}</td></tr>'
    return f'<tr><th scope="row">{e(pretty(name))}</th><td class="v">{e(num(n))}</td><td class="muted">–</td><td></td></tr>'


def numbers_table(numbers: dict) -> str:
    if not numbers:
        return ""
    rows = "".join(number_row(k, v) for k, v in numbers.items())
    return (f'<table class="nums"><thead><tr><th>measure</th><th>measured</th><th>held against</th><th>result</th></tr></thead>'
            f'<tbody>{rows}</tbody></table>')


def result_numbers(result: dict, limit: int = 10) -> str:
    """The headline numbers of a checker result, one line (full JSON goes in a details block)."""
    parts = []
    for k, v in result.items():
        if k in ("valid", "checker", "reasons"):
            continue
        if isinstance(v, dict) and "value" in v:
            thr = v.get("threshold")
            s = f"{pretty(k)} {num(v.get('value'))}{(' ' + v['unit']) if v.get('unit') else ''}"
            if thr is not None:
                s += f" ({OPS.get(v.get('op', '<='), v.get('op'))} {num(thr)})"
        elif isinstance(v, dict):
            inner = [f"{kk} {num(vv)}" for kk, vv in v.items() if isinstance(vv, (int, float)) and not isinstance(vv, bool)]
            if not inner:
                continue
            s = f"{pretty(k)}: " + ", ".join(inner[:5])
        elif isinstance(v, list):
            s = f"{pretty(k)}: {len(v)}"
        else:
            s = f"{pretty(k)} {num(v)}"
        parts.append(s)
        if len(parts) >= limit:
            break
    return " · ".join(parts)


# -- logs -------------------------------------------------------------------------------------
_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d)?\s")
_log_cache: dict[Path, list[tuple[float | None, str]]] = {}


def _log_lines(path: Path) -> list[tuple[float | None, str]]:
    if path not in _log_cache:
        out = []
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_LOG_BYTES).decode("utf-8", "replace")
        except OSError:
            data = ""
        for line in data.splitlines():
            m = _TS.match(line)
            ts = None
            if m:
                stamp = m.group(1)[:26]
                try:
                    dt = _dt.datetime.fromisoformat(stamp)
                    tz = m.group(2)
                    if not tz or tz == "Z":
                        dt = dt.replace(tzinfo=_dt.timezone.utc)
                    else:
                        dt = _dt.datetime.fromisoformat(stamp + (tz if ":" in tz else tz[:3] + ":" + tz[3:]))
                    ts = dt.timestamp()
                except ValueError:
                    ts = None
            out.append((ts, line))
        _log_cache[path] = out
    return _log_cache[path]


def log_excerpt(run: Run, rel: str, start: float, end: float) -> list[str]:
    """Log lines whose timestamps fall within the test's time span (wall clock = wall_t0 + t)."""
    w0 = run.meta.get("wall_t0")
    if not isinstance(w0, (int, float)):
        return []
    lo, hi = w0 + start - 1.0, w0 + end + 1.0
    return [line for ts, line in _log_lines(run.path / rel) if ts is not None and lo <= ts <= hi]


def logs_links(run: Run, design: str | None, prefix: str, test: str | None = None) -> str:
    """Links to the logs (and compose file) of the clusters a test ran against."""
    clusters = clusters_for(run, design, test)
    groups = []
    for c in clusters:
        links = [f'<a href="{href(prefix + rel)}">{e(Path(rel).name)}</a>' for rel in c.logs]
        if c.has_compose:
            links.append(f'<a href="{href(prefix + c.rel + "/compose.yml")}">compose.yml</a>')
        if links:
            head = f'<span class="muted">{e(c.id.removeprefix(run.run_id + "-"))}:</span> ' if len(clusters) > 1 else ""
            groups.append(head + " ".join(links))
    return " · ".join(groups)


# -- claim cells ------------------------------------------------------------------------------
def evidence_item(ev: dict, runs: dict[str, Run], prefixes: dict[str, str], merged: bool) -> str:
    run = runs.get(ev.get("run_key", ""))
    test = str(ev.get("test") or "?")
    tlink = (f'<a href="#{test_anchor(run, test)}"><code>{e(short_test(test))}</code></a>' if run
             else f"<code>{e(short_test(test))}</code>")
    out = badge(ev.get("outcome"), OUTCOME) if ev.get("outcome") or ev.get("synthetic") else ""
    m = ev.get("measured")
    head = (f'<div class="evhead">{tlink} {out} <span class="k">measured</span> <b>{e(m)}</b>'
            + (f' <span class="muted">· run <code>{e(ev.get("run"))}</code></span>' if merged else "") + "</div>")
    note = f'<p class="note">{e(ev["note"])}</p>' if ev.get("note") else ""
    note = counts_as_note(ev) + note
    refs = []
    if run is not None:
        idx = [i for i, c in enumerate(run.checks) if c.get("test") == test and c.get("checker") in (ev.get("checks") or [])]
        for i in idx:
            c = run.checks[i]
            v = str((c.get("result") or {}).get("valid", "unknown"))
            cls, sym, _ = VALID.get(v, VALID["unknown"])
            refs.append(f'<a class="chip t-{cls}" href="#{check_anchor(run, i)}"><span aria-hidden="true">{sym}</span> '
                        f'{e(c.get("checker"))}: {e(v)}</a>')
        missing = [x for x in (ev.get("checks") or []) if not any(run.checks[i].get("checker") == x for i in idx)]
        refs += [f'<span class="chip t-unk">{e(x)}: not stored</span>' for x in missing]
        logs = logs_links(run, ev.get("design"), prefixes.get(run.key, ""), test)
    else:
        logs = ""
    refs_html = ""
    if refs:
        refs_html += f'<div class="refs"><span class="k">checks</span> {" ".join(refs)}</div>'
    if logs:
        refs_html += f'<div class="refs"><span class="k">logs</span> {logs}</div>'
    return f'<div class="evitem">{head}{note}{numbers_table(ev.get("numbers") or {})}{refs_html}</div>'


def counts_as_note(ev: dict) -> str:
    """Why a record counts as something else than it measured (``claims.counted``), or ""."""
    if "counts_as" not in ev or ev["counts_as"] == ev.get("measured"):
        return ""
    if ev["counts_as"] is None:
        return '<p class="note t-nc">Not counted: the test was skipped.</p>'
    who = f"the test {ev['outcome']}" if ev.get("outcome") else "the test's outcome is unknown"
    return (f'<p class="note t-unk">Counts as {e(ev["counts_as"])}: {e(who)}, and a test that did not pass can show a '
            f'violation but cannot make a claim hold (its record is written before its own asserts).</p>')


def cell_card(c: dict, runs: dict[str, Run], prefixes: dict[str, str], merged: bool) -> str:
    cls = AGREE[c["agreement"]][0]
    title = c["label"][:1].upper() + c["label"][1:]
    quote = f'<blockquote>“{e(c["as_written"])}”</blockquote>' if c["kind"] == "prose" else ""
    claimed = c["claimed"] if c["kind"] == "prose" else c["as_written"]
    measured = c["measured"] if c["measured"] is not None else (
        "not certified in this run" if c.get("design_not_run") else "not certified")
    dl = (f'<dl class="cv"><dt>claimed</dt><dd>{e(claimed)}</dd><dt>measured</dt><dd><b>{e(measured)}</b>'
          f'{" (partial)" if c.get("partial") else ""}</dd><dt>verdict</dt><dd>{e(c["reason"])}</dd>'
          f'<dt>how it is measured</dt><dd>{e(c.get("measure") or "–")}</dd></dl>')
    items = "".join(evidence_item(ev, runs, prefixes, merged) for ev in c["evidence"])
    if not c["evidence"]:
        items = '<p class="muted">No test in this run recorded a measurement for this claim.</p>'
    for s in c.get("skipped_tests") or []:
        run = runs.get(s.get("run_key", ""))
        link = f'<a href="#{test_anchor(run, s["test"])}">' if run else "<span>"
        items += (f'<p class="note">{link}<code>{e(short_test(s["test"]))}</code>{"</a>" if run else "</span>"} '
                  f'{badge("skipped", OUTCOME)} {e(s.get("reason") or "")}</p>')
    return (f'<article class="ev c-{cls}" id="{cell_id(c["design"], c["claim"])}"><header><h4>{e(title)}</h4>'
            f'{badge(c["agreement"])}</header>{quote}{dl}{items}</article>')


# -- per design -------------------------------------------------------------------------------
def faults_table(faults: list[dict], run_of: dict[int, Run], runs_merged: bool) -> str:
    if not faults:
        return '<p class="muted">No faults were applied to this design.</p>'
    rows = []
    for w in faults:
        if not w["applied"]:
            st = '<span class="t-bad">✗ not applied</span>'
        elif w["healed"] is None:
            st = '<span class="t-bad">✗ never healed</span>'
        elif w["healed"] is False:
            st = '<span class="t-bad">✗ heal failed</span>'
        else:
            st = '<span class="t-ok">✓ applied and healed</span>'
        length = w["end"] - w["start"] if w["applied"] and not w.get("open_end") else None
        rows.append(f'<tr><td><code>{e(w["id"])}</code></td><td>{e(w["fault"])}</td><td>{e(w["target"])}</td>'
                    f'<td class="wrap">{e(short_test(w.get("test") or ""))}</td><td class="v">{e(num(round(w["invoked"], 2)))} s</td>'
                    f'<td class="v">{e(num(round(w["start"], 2)) if w["applied"] else "–")}</td>'
                    f'<td class="v">{e(num(round(w["end"], 2)) if not w.get("open_end") else "–")}</td>'
                    f'<td class="v">{e(num(round(length, 2)) + " s" if length is not None else "–")}</td><td>{st}'
                    f'{(" — " + e(w["error"])) if w.get("error") else ""}</td></tr>')
    return ('<table class="grid"><thead><tr><th>id</th><th>fault</th><th>target</th><th>test</th><th>invoked</th>'
            '<th>in effect</th><th>healed</th><th>window</th><th>status</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def errors_table(events) -> str:
    """Distinct errors seen by probes, sends and sessions (texts come from servers: escaped)."""
    c: Counter = Counter()
    first: dict = {}
    for o in ops_of(events, "probe", "send", "session", "read", "pop-read", "webmail-list"):
        if o.type == "ok":
            continue
        proto = (o.invoke.value or {}).get("proto") if isinstance(o.invoke.value, dict) else None
        # object addresses in exception texts ("at 0x7fd7…") would make every timeout its own row
        key = (o.f + (f" {proto}" if proto else ""), o.type, ADDRESS.sub("0x…", str(o.error or ""))[:200])
        c[key] += 1
        first.setdefault(key, o.start)
    if not c:
        return ""
    rows = "".join(f'<tr><td>{e(k[0])}</td><td>{badge({"fail": "failed", "info": "unknown"}.get(k[1], k[1]), {"failed": ("bad", "✗", "fail"), "unknown": ("unk", "?", "unknown")})}</td>'
                   f'<td class="wrap"><code>{e(k[2])}</code></td><td class="v">{n}</td><td class="v">{e(num(round(first[k], 2)))} s</td></tr>'
                   for k, n in sorted(c.items(), key=lambda kv: (first[kv[0]], kv[0])))
    return ('<table class="grid"><thead><tr><th>operation</th><th>outcome</th><th>error as reported</th><th>count</th>'
            '<th>first at</th></tr></thead><tbody>' + rows + "</tbody></table>")


# -- tests ------------------------------------------------------------------------------------
def test_block(run: Run, nodeid: str, res, prefix: str, cells_by_test: dict) -> str:
    span = run.spans.get(nodeid)
    out = badge(res.outcome if res else None, OUTCOME)
    design = next((ev.get("design") for ev in run.evidence if ev.get("test") == nodeid), None) or \
        next((c.get("design") for c in run.checks if c.get("test") == nodeid), None) or \
        next((x.design for x in run.events if x.test == nodeid and x.design), None)
    facts = []
    if design:
        facts.append(f"design <b>{e(design)}</b>")
    if res:
        facts.append(f"duration {e(num(round(res.time, 2)))} s")
    if span:
        facts.append(f"t = {e(num(round(span[0], 2)))}–{e(num(round(span[1], 2)) if span[1] is not None else '…')} s")
    msg = ""
    if res and res.outcome in ("failed", "error", "skipped", "xfailed") and (res.message or res.detail):
        msg = f'<p class="msg t-{OUTCOME[res.outcome][0]}">{e(res.message)}</p>'
        if res.detail and res.outcome not in ("skipped", "xfailed"):
            msg += f'<details><summary>traceback</summary><pre>{e(res.detail)}</pre></details>'
    cl = cells_by_test.get((run.key, nodeid), [])
    claims = ""
    vs = [v for v in cells_by_test.get(("variants", run.key, nodeid), [])]
    if cl:
        claims = '<div class="refs"><span class="k">claims</span> ' + " ".join(
            f'<a class="chip t-{AGREE[c["agreement"]][0]}" href="#{cell_id(c["design"], c["claim"])}">'
            f'{e(c["design"])}.{e(c["claim"])}: {e(m)}</a>' for c, m in cl) + "</div>"
    if vs:
        claims += '<div class="refs"><span class="k">broken variant</span> ' + " ".join(
            f'<span class="chip t-{CAUGHT[v["caught"]][0]}">{e(v.get("variant"))}: {e(v["design"])}.{e(v["claim"])} '
            f'{e(v.get("measured"))} ({e(v["caught"])})</span>' for v in vs) + "</div>"
    rows = []
    for i, c in enumerate(run.checks):
        if c.get("test") != nodeid:
            continue
        r = c.get("result") or {}
        v = str(r.get("valid", "unknown"))
        window = c.get("window")
        wtxt = f"{num(window[0])}–{num(window[1])} s" if isinstance(window, (list, tuple)) and len(window) == 2 else "whole test"
        opts = ", ".join(f"{k}={v2}" for k, v2 in (c.get("options") or {}).items()) or "defaults"
        reasons = "; ".join(str(x) for x in (r.get("reasons") or []))
        why = f'<br><span class="t-{VALID.get(v, VALID["unknown"])[0]}">{e(reasons)}</span>' if reasons else ""
        rows.append(f'<tr id="{check_anchor(run, i)}"><td><code>{e(c.get("checker"))}</code></td><td>{badge(v, VALID)}</td>'
                    f'<td class="wrap">{e(wtxt)}<br><span class="muted">{e(opts)}</span></td>'
                    f'<td class="wrap">{e(result_numbers(r))}{why}'
                    f'<details><summary>result as stored</summary><pre>{e(json.dumps(r, indent=1, default=str)[:20000])}</pre></details></td></tr>')
    checks = ""
    if rows:
        checks = ('<table class="grid checks"><thead><tr><th>checker</th><th>verdict</th><th>window, options</th>'
                  '<th>numbers</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
    logs = logs_links(run, design, prefix, nodeid)
    excerpts = ""
    if span and span[1] is not None:
        for c in clusters_for(run, design, nodeid):
            for rel in c.logs:
                lines = log_excerpt(run, rel, span[0], span[1])
                if lines:
                    more = f"\n… {len(lines) - MAX_LOG_LINES} more lines in the file" if len(lines) > MAX_LOG_LINES else ""
                    excerpts += (f'<details><summary>{e(Path(rel).name)}: {len(lines)} line{"s" if len(lines) != 1 else ""} '
                                 f'during this test</summary><pre>{e(chr(10).join(lines[:MAX_LOG_LINES]) + more)}</pre></details>')
    logs_html = f'<div class="refs"><span class="k">logs</span> {logs}</div>' if logs else ""
    return (f'<article class="test" id="{test_anchor(run, nodeid)}"><header><h4><code>{e(nodeid)}</code></h4>{out}</header>'
            f'<p class="facts">{" · ".join(facts)}</p>{msg}{claims}{checks}{logs_html}{excerpts}</article>')


def tests_section(runs: list[Run], summary: dict, prefixes: dict[str, str]) -> str:
    cells_by_test: dict = {}
    for c in summary["cells"]:
        for ev in c["evidence"]:
            cells_by_test.setdefault((ev.get("run_key", ""), ev.get("test")), []).append((c, ev.get("measured")))
    for v in summary.get("variants", []):
        cells_by_test.setdefault(("variants", v.get("run_key", ""), v.get("test")), []).append(v)
    parts = []
    for run in runs:
        ids = [t.nodeid for t in run.tests or []]
        for x in (list(run.spans) + [ev.get("test") for ev in run.evidence + run.variants]
                  + [c.get("test") for c in run.checks]):
            if x and x not in ids:
                ids.append(x)  # tests the junit file does not list (killed run)
        if len(runs) > 1:
            parts.append(f'<h3>Run <code>{e(run.run_id)}</code></h3>')
        if run.tests is None:
            parts.append('<p class="msg t-bad">No junit.xml: the session did not finish, so test outcomes are unknown.</p>')
        rows = []
        for nodeid in ids:
            res = run.test_result(nodeid)
            ncl = len(cells_by_test.get((run.key, nodeid), []))
            nck = sum(1 for c in run.checks if c.get("test") == nodeid)
            rows.append(f'<tr><td>{badge(res.outcome if res else None, OUTCOME)}</td>'
                        f'<td><a href="#{test_anchor(run, nodeid)}"><code>{e(nodeid)}</code></a></td>'
                        f'<td class="v">{e(num(round(res.time, 1)) + " s" if res else "–")}</td>'
                        f'<td class="v">{ncl}</td><td class="v">{nck}</td></tr>')
        if rows:
            parts.append('<table class="grid"><thead><tr><th>outcome</th><th>test</th><th>duration</th><th>claims</th>'
                         '<th>checks</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
        else:
            parts.append('<p class="muted">No tests ran.</p>')
        for nodeid in ids:
            parts.append(test_block(run, nodeid, run.test_result(nodeid), prefixes.get(run.key, ""), cells_by_test))
    return "".join(parts)


def prose_not_run(design: str, cells: list[dict]) -> str:
    cat = catalogue()
    items = "".join(f'<li><blockquote>“{e(c["as_written"])}”</blockquote><span class="muted">{e(c["measure"])}</span></li>'
                    for c in cells if c["design"] == design and c["kind"] == "prose")
    return (f'<section class="design notrun" id="design-{design}"><h3 id="prose-{design}">{e(cat.design_title(design))}'
            f' <span class="colstate notrun">not certified in this run</span></h3><ul class="quotes">{items}</ul></section>')


CAUGHT = {"caught": ("ok", "✓", "caught"), "not caught": ("bad", "✗", "not caught"), "unknown": ("unk", "?", "unknown")}


def variants_table(variants: list[dict], runs: dict[str, Run]) -> str:
    """Results against deliberately broken clusters: the proof that the suite can fail.
    They never count in the matrix; a variant is *caught* when its measurement is below the claim."""
    if not variants:
        return ""
    cat = catalogue()
    rows = []
    for v in sorted(variants, key=lambda v: (str(v.get("variant")), str(v.get("claim")))):
        run = runs.get(v.get("run_key", ""))
        test = str(v.get("test") or "?")
        tlink = (f'<a href="#{test_anchor(run, test)}"><code>{e(short_test(test))}</code></a>' if run
                 else f"<code>{e(short_test(test))}</code>")
        try:
            label = cat.get(v["design"], v["claim"]).label
        except KeyError:
            label = v["claim"]
        nums = "; ".join(f"{pretty(k)} {num(n.get('value') if isinstance(n, dict) else n)}"
                         for k, n in list((v.get("numbers") or {}).items())[:4])
        rows.append(f'<tr><td><code>{e(v.get("variant"))}</code></td><td>{e(label)}</td><td>{e(v["claimed"])}</td>'
                    f'<td><b>{e(v.get("measured"))}</b></td><td>{badge(v["caught"], CAUGHT)}</td>'
                    f'<td class="wrap">{tlink}<br><span class="muted">{e(v.get("note") or nums)}</span></td></tr>')
    return ('<h3>Broken variants: can the suite fail?</h3><p class="lead">The same checks against deliberately broken '
            'clusters (compose overrides). A variant is caught when its measurement falls below the claim; these '
            'results never count in the matrix.</p><table class="grid"><thead><tr><th>variant</th><th>claim</th>'
            '<th>claimed</th><th>measured</th><th>result</th><th>test</th></tr></thead><tbody>' + "".join(rows)
            + "</tbody></table>")
