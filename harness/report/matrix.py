"""The claims matrix: the seed's table, rows × the five designs, claimed vs measured; under it,
one line per architecture the sheet names but never describes (``named_only`` in claims.yaml)."""
from __future__ import annotations

from ..claims import catalogue
from .util import AGREE, badge, e, slug


def cell_id(design: str, claim: str) -> str:
    return f"cell-{design}-{claim}"


def _claimed(c: dict) -> str:
    """The claimed value, with the seed's qualifier as written in small type."""
    w = c["as_written"]
    head = c["claimed"]
    rest = w[len(head):].strip() if w.startswith(head) else ("" if w == head else w)
    return (f'<div class="claimed"><span class="k">claimed</span> <b>{e(head)}</b>'
            + (f' <span class="qual">{e(rest)}</span>' if rest else "") + "</div>")


def _measured(c: dict) -> str:
    m = c["measured"]
    if m is None:
        text = "not certified in this run" if c.get("design_not_run") else "not certified"
        return f'<div class="measured"><span class="k">measured</span> <span class="none">{e(text)}</span></div>'
    part = ' <span class="qual">(partial)</span>' if c.get("partial") else ""
    return f'<div class="measured"><span class="k">measured</span> <b>{e(m)}</b>{part}</div>'


def matrix_cell(c: dict) -> str:
    cls = AGREE[c["agreement"]][0]
    tip = f"{c['label']} — {c['reason']}"
    n = len(c["evidence"])
    ev = f'<div class="nev">{n} measurement{"s" if n != 1 else ""} · evidence ↓</div>' if n else ""
    if c.get("design_not_run"):  # the column header already says why: keep these cells quiet
        inner = _claimed(c) + badge(c["agreement"])
        return f'<td class="cell c-{cls} notrun" title="{e(tip)}"><div class="inner">{inner}</div></td>'
    inner = _claimed(c) + _measured(c) + badge(c["agreement"]) + ev
    return f'<td class="cell c-{cls}" title="{e(tip)}"><a class="cellink" href="#{cell_id(c["design"], c["claim"])}">{inner}</a></td>'


def design_header(design: str, in_run: bool, counts: dict) -> str:
    cat = catalogue()
    d = cat.designs.get(design, {})
    status = ('<span class="colstate run">certified in this run</span>' if in_run
              else '<span class="colstate notrun">not certified in this run</span>')
    link = f'<a href="#design-{design}">' if in_run else "<span>"
    close = "</a>" if in_run else "</span>"
    return (f'<th scope="col" class="dcol{"" if in_run else " notrun"}">{link}<span class="num">{e(d.get("numeral", ""))}</span>'
            f'<span class="dtitle">{e(d.get("title", design))}</span>{close}{status}</th>')


def render(summary: dict) -> str:
    cat = catalogue()
    cells = {(c["design"], c["claim"]): c for c in summary["cells"]}
    designs = cat.design_ids()
    in_run = set(summary["designs_in_run"])
    rows = []
    group = None
    for rid, row in cat.rows.items():
        g = row.get("group", "")
        if g and g != group:
            rows.append(f'<tr class="group"><th scope="rowgroup" colspan="{len(designs) + 1}">{e(g)}</th></tr>')
        group = g
        tds = "".join(matrix_cell(cells[(d, rid)]) for d in designs if (d, rid) in cells)
        rows.append(f'<tr><th scope="row" class="rowh"><span class="rlabel">{e(row["label"])}</span>'
                    f'<span class="rmeaning">{e(row.get("meaning", ""))}</span></th>{tds}</tr>')
    # one summary row for the prose claims of each design
    rows.append(f'<tr class="group"><th scope="rowgroup" colspan="{len(designs) + 1}">Claims made in each design\'s text</th></tr>')
    tds = []
    for d in designs:
        pc = [c for c in summary["cells"] if c["design"] == d and c["kind"] == "prose"]
        parts = []
        for a in ("disagree", "unknown", "review", "agree", "confirmed", "exceeds", "not certified"):
            n = sum(1 for c in pc if c["agreement"] == a)
            if n:
                cls, sym, text = AGREE[a]
                parts.append(f'<li class="t-{cls}"><span aria-hidden="true">{sym}</span> {n} {e(text)}</li>')
        # green only when every prose claim of the design was measured and holds
        worst = next((a for a in ("disagree", "unknown", "not certified", "review", "agree", "confirmed", "exceeds")
                      if any(c["agreement"] == a for c in pc)), "not certified")
        if d not in in_run:
            worst = "not certified"
        inner = f'<div class="claimed"><span class="k">{len(pc)} prose claims</span></div><ul class="plist">{"".join(parts)}</ul>'
        href = f'#prose-{d}'
        tds.append(f'<td class="cell c-{AGREE[worst][0]}{"" if d in in_run else " notrun"}"><a class="cellink" href="{href}">{inner}</a></td>')
    rows.append(f'<tr><th scope="row" class="rowh"><span class="rlabel">Prose claims</span>'
                f'<span class="rmeaning">quotes from options I–V: failover, resync, uptime, scaling…</span></th>{"".join(tds)}</tr>')
    head = "".join(design_header(d, d in in_run, summary["counts_by_design"].get(d, {})) for d in designs)
    return (f'<table class="matrix" id="{slug("matrix")}"><thead><tr><th scope="col" class="corner">'
            f'<span class="k">Seed table row</span><span class="src">{e(cat.source)}</span></th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{named_only(cat.named_only)}')


def named_only(items: list[dict]) -> str:
    """One line per architecture the sheet names but never describes: said, not left out."""
    return "".join(f'<p class="namedonly"><b>{e(it["title"])}</b>: {e(it["note"])}.</p>' for it in items)
