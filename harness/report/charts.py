"""Inline SVG charts of one design's history: availability timeline, probe latency, lag.

All three share one time axis (seconds since the run started) so a fault window lines up
across them. Colour is never the only signal: failures are also hatched, series also differ
by marker shape, and every mark has a ``<title>`` tooltip with its numbers.
"""
from __future__ import annotations

import bisect
import math
from collections import Counter

from ..history import Event, Op
from .data import ops_of
from .util import e, num

W, L, R = 1040, 118, 218          # width, left label column, right stats column
X0, X1 = L, W - R
CHAR_W = 6.2  # width of one character of a label (class flabel), for placing labels side by side
LANE, GAP = 20, 6
PROTO_ORDER = ("smtp", "imap", "pop3", "http")
PROTO_LABEL = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3", "http": "Webmail (HTTP)"}
SERIES = [("#0969da", "circle"), ("#8250df", "square"), ("#bc4c00", "triangle"), ("#1b7c83", "diamond"),
          ("#6e7781", "circle"), ("#bf3989", "square")]
NODE_FILLS = ["#cfe3ff", "#e4d8fd", "#d5f0e3", "#fde2c8", "#d8dee4"]


class Scale:
    def __init__(self, t0: float, t1: float):
        self.t0, self.t1 = t0, max(t1, t0 + 1e-6)

    def x(self, t: float) -> float:
        return X0 + (min(max(t, self.t0), self.t1) - self.t0) / (self.t1 - self.t0) * (X1 - X0)


def nice_step(span: float, n: int = 8) -> float:
    raw = max(span, 1e-9) / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def ticks(lo: float, hi: float, n: int = 8) -> list[float]:
    step = nice_step(hi - lo, n)
    start = math.ceil(lo / step - 1e-9) * step
    out, t = [], start
    while t <= hi + 1e-9:
        out.append(round(t, 9))
        t += step
    return out


def _defs() -> str:
    return ('<defs>'
            '<pattern id="hatch-bad" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#cf222e"/><line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2" opacity=".55"/></pattern>'
            '<pattern id="hatch-fault" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">'
            '<rect width="8" height="8" fill="#fff4ea"/><line x1="0" y1="0" x2="0" y2="8" stroke="#e3b98f" stroke-width="1.4"/></pattern>'
            '<pattern id="hatch-two" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#ffd8d3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#cf222e" stroke-width="2"/></pattern>'
            '<pattern id="hatch-variant" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">'
            '<rect width="6" height="6" fill="#ece4f7"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8250df" stroke-width="1.2" opacity=".6"/></pattern>'
            '</defs>')


def _label_text(w: dict) -> tuple[str, str]:
    state = ("not applied" if not w["applied"] else "never healed" if w["healed"] is None
             else "heal failed" if w["healed"] is False else "")
    return f"{w['id']} {w['fault']} {w['target']}" + (f" ({state})" if state else ""), state


def label_rows(faults: list[dict], sc: Scale, most: int = 3) -> int:
    """How many label rows the fault labels need (each label goes to the first row with room)."""
    row_end: list[float] = []
    for w in sorted(faults, key=lambda w: w["start"]):
        x0 = sc.x(w["start"] if w["applied"] else w["invoked"])
        width = CHAR_W * len(_label_text(w)[0])
        row = next((i for i, end in enumerate(row_end) if end < x0), None)
        if row is None:
            if len(row_end) >= most:
                continue
            row_end.append(x0 + width)
        else:
            row_end[row] = x0 + width
    return len(row_end)


def _fault_layer(faults: list[dict], sc: Scale, top: float, bottom: float, label_y: float, rows: int = 3) -> tuple[str, str]:
    """Shaded fault windows (drawn behind the lanes) and their labels (drawn above)."""
    shade, labels = [], []
    rows = max(rows, 1)
    row_end = [-1e9] * rows
    for w in sorted(faults, key=lambda w: w["start"]):
        x0 = sc.x(w["start"] if w["applied"] else w["invoked"])
        x1 = max(sc.x(w["end"]), x0 + 2)
        text, state = _label_text(w)
        length = (w["end"] - w["start"]) if w["applied"] else 0
        tip = (f"fault {w['id']}: {w['fault']} {w['target']}, "
               + (f"{num(w['start'])}–{num(w['end'])} s ({num(round(length, 2))} s)" if w["applied"] else "not applied")
               + (f"; {state}" if state else "") + (f"; {w['error']}" if w.get("error") else ""))
        stroke = ' stroke="#cf222e" stroke-dasharray="4 3"' if state else ' stroke="#d4a373"'
        shade.append(f'<rect class="fault" x="{x0:.1f}" y="{top:.1f}" width="{x1 - x0:.1f}" height="{bottom - top:.1f}" '
                     f'fill="url(#hatch-fault)"><title>{e(tip)}</title></rect>')
        labels.append(f'<rect x="{x0:.1f}" y="{top:.1f}" width="{x1 - x0:.1f}" height="{bottom - top:.1f}" fill="none"'
                      f'{stroke} stroke-width="1.2"><title>{e(tip)}</title></rect>')
        # no row free for the whole label: just its id (the tooltip and the faults table say the rest),
        # in the row that frees up first, so labels never print over each other
        row = next((i for i in range(rows) if row_end[i] < x0), None)
        tx = x0 + 3
        if row is None:
            text = w["id"]
            row = min(range(rows), key=lambda i: row_end[i])
            tx = max(tx, row_end[row] + 2)
        width = CHAR_W * len(text)
        row_end[row] = tx + width
        y = label_y + row * 13
        labels.append(f'<line x1="{x0:.1f}" y1="{y + 2:.1f}" x2="{x0:.1f}" y2="{top:.1f}" stroke="#b08968" stroke-width="1"/>'
                      f'<text class="flabel" x="{tx:.1f}" y="{y:.1f}">{e(text)}<title>{e(tip)}</title></text>')
    return "".join(shade), "".join(labels)


def _axis(sc: Scale, y: float, top: float, label: str = "seconds since the run started") -> str:
    out = [f'<line x1="{X0}" y1="{y:.1f}" x2="{X1}" y2="{y:.1f}" stroke="#8c959f"/>']
    for t in ticks(sc.t0, sc.t1):
        x = sc.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
                   f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#8c959f"/>'
                   f'<text class="tick" x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle">{e(num(t))}</text>')
    out.append(f'<text class="axis" x="{(X0 + X1) / 2:.1f}" y="{y + 29:.1f}" text-anchor="middle">{e(label)}</text>')
    return "".join(out)


# -- availability lanes --------------------------------------------------------------------
def probe_stats(ops: list[Op]) -> dict:
    """ok share and gaps of one protocol. A gap is the time between successive successful
    probe completions (the interruption a client saw, as the availability checker counts it);
    an *outage* is a gap during which probes failed."""
    ops = sorted(ops, key=lambda o: (o.start, o.invoke.i))
    oks = sorted((o.end for o in ops if o.type == "ok" and o.end is not None))
    bad = [o for o in ops if o.type != "ok"]
    ok = len(oks)
    if not ops:
        return {"probes": 0, "completed": 0, "ok": 0, "ratio": None, "outages": [], "longest": 0.0}
    # gaps inside each stretch of probing: the idle time between two tests is no outage
    gaps = []
    starts_all = [o.start for o in ops]
    for a, b in _segments(ops):
        first = ops[bisect.bisect_left(starts_all, a)]
        seg_oks = oks[bisect.bisect_left(oks, a):bisect.bisect_right(oks, b + 0.001)]
        edges = ([a] if first.type != "ok" else []) + seg_oks + ([b] if not seg_oks or b > seg_oks[-1] else [])
        gaps += list(zip(edges, edges[1:])) if len(edges) > 1 else [(a, b)]
    bad.sort(key=lambda o: o.start)
    starts = [o.start for o in bad]
    outages = []
    for a, b in gaps:
        inside = bad[bisect.bisect_left(starts, a):bisect.bisect_right(starts, b)]
        if inside:
            errs = Counter(o.error or o.type for o in inside)
            outages.append({"start": a, "end": b, "n": len(inside), "errors": errs, "types": Counter(o.type for o in inside)})
    return {"probes": len(ops), "completed": sum(1 for o in ops if o.done is not None), "ok": ok,
            "ratio": ok / len(ops), "outages": outages,
            "longest": max((b - a for a, b in gaps), default=0.0)}


def _segments(ops: list[Op], max_gap: float = 2.0) -> list[tuple[float, float]]:
    """Spans during which operations ran (a gap of more than max_gap seconds ends a span)."""
    segs: list[list[float]] = []
    for o in sorted(ops, key=lambda o: o.start):
        end = o.end if o.end is not None else o.start
        if segs and o.start - segs[-1][1] <= max_gap:
            segs[-1][1] = max(segs[-1][1], end)
        else:
            segs.append([o.start, end])
    return [(a, b) for a, b in segs]


def _lane_label(y: float, text: str, sub: str = "") -> str:
    s = f'<text class="lane" x="{L - 8}" y="{y + 13:.1f}" text-anchor="end">{e(text)}</text>'
    if sub:
        s += f'<text class="lanesub" x="{L - 8}" y="{y + 23:.1f}" text-anchor="end">{e(sub)}</text>'
    return s


def _stats(y: float, line1: str, line2: str = "", bad: bool = False) -> str:
    cls = "stat bad" if bad else "stat"
    s = f'<text class="{cls}" x="{X1 + 8}" y="{y + 9:.1f}">{e(line1)}</text>'
    if line2:
        s += f'<text class="statsub" x="{X1 + 8}" y="{y + 19:.1f}">{e(line2)}</text>'
    return s


def _probe_lane(ops: list[Op], sc: Scale, y: float, name: str, stat_ops: list[Op] | None = None) -> tuple[str, dict]:
    """Drawn from every probe; the figures at right (and the outages drawn) from ``stat_ops``."""
    shown = probe_stats(ops)
    st = shown if stat_ops is None else probe_stats(stat_ops)
    out = []
    for a, b in _segments(ops):
        out.append(f'<rect class="up" x="{sc.x(a):.1f}" y="{y:.1f}" width="{max(sc.x(b) - sc.x(a), 1):.1f}" height="{LANE}" fill="#2da44e">'
                   f'<title>{e(name)}: probing {num(round(a, 2))}–{num(round(b, 2))} s</title></rect>')
    for o in shown["outages"]:
        x0 = sc.x(o["start"])
        w = max(sc.x(o["end"]) - x0, 2.0)
        errs = ", ".join(f"{k} ×{v}" for k, v in o["errors"].most_common(4))
        fill = "url(#hatch-bad)" if o["types"].get("fail") or not o["types"].get("info") else "#d4a72c"
        out.append(f'<rect class="down" x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{LANE}" fill="{fill}">'
                   f'<title>{e(name)} unavailable {num(round(o["start"], 2))}–{num(round(o["end"], 2))} s '
                   f'({num(round(o["end"] - o["start"], 2))} s, {o["n"]} probes not ok: {e(errs)})</title></rect>')
    ratio = st["ratio"]
    line1 = f"{ratio * 100:.2f} % ok" if ratio is not None else "no probes"
    line2 = f"{st['ok']}/{st['probes']} probes · longest gap {num(round(st['longest'], 2))} s"
    out.append(_stats(y, line1, line2, bad=bool(st["outages"])))
    return "".join(out), st


def _vip_segments(ops: list[Op]) -> list[list]:
    """[start, end, holders] runs of equal VIP holder samples. The observer records on every
    change, so a run lasts until the next sample; it ends with its test, because each test
    watches its own cluster and nothing was observed in between."""
    samples = sorted((o for o in ops if o.type == "ok" and isinstance(o.value, dict)), key=lambda o: o.end or o.start)
    segs: list[list] = []
    test = object()
    for o in samples:
        hs = tuple(sorted(o.value.get("holders") or []))
        t = o.end or o.start
        if segs and o.invoke.test != test:
            segs[-1][1] = max(segs[-1][1], segs[-1][0] + 0.2)
            segs.append([t, t, hs])
        elif segs and segs[-1][2] == hs:
            segs[-1][1] = t
        else:
            if segs:
                segs[-1][1] = t
            segs.append([t, t, hs])
        test = o.invoke.test
    if segs:
        segs[-1][1] = max(segs[-1][1], segs[-1][0] + 0.2)
    return segs


def _vip_lane(ops: list[Op], sc: Scale, y: float, t_end: float, stat_ops: list[Op] | None = None) -> tuple[str, dict]:
    samples = [o for o in ops if o.type == "ok" and isinstance(o.value, dict)]
    nodes = sorted({h for o in samples for h in (o.value.get("holders") or [])})
    fill = {n: NODE_FILLS[i % len(NODE_FILLS)] for i, n in enumerate(nodes)}
    segs = _vip_segments(ops)
    out = []
    for a, b, hs in segs:
        x0, x1 = sc.x(a), sc.x(b)
        if len(hs) >= 2:
            f, label = "url(#hatch-two)", f"{len(hs)} holders!"
        elif len(hs) == 1:
            f, label = fill[hs[0]], hs[0]
        else:
            f, label = "#ffffff", "none"
        tip = f"VIP holder {num(round(a, 2))}–{num(round(b, 2))} s: " + (", ".join(hs) if hs else "nobody")
        out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1):.1f}" height="{LANE}" fill="{f}" '
                   f'stroke="#8c959f" stroke-width=".5"><title>{e(tip)}</title></rect>')
        if x1 - x0 > 6.5 * len(label) + 6:
            cls = "inlane bad" if len(hs) >= 2 else "inlane"
            out.append(f'<text class="{cls}" x="{(x0 + x1) / 2:.1f}" y="{y + 14:.1f}" text-anchor="middle">{e(label)}</text>')
    # VRRP hands a VIP over by adding it on the new master a few ms before the old one drops it;
    # the split_brain checker judges overlaps against its handover bound, this lane only shows them
    stat_segs = segs if stat_ops is None else _vip_segments(stat_ops)
    n_stat = sum(1 for o in (ops if stat_ops is None else stat_ops) if o.type == "ok" and isinstance(o.value, dict))
    max_holders = max((len(hs) for _, _, hs in stat_segs), default=0)
    longest = max((b - a for a, b, hs in stat_segs if len(hs) >= 2), default=0.0)
    line = (f"max {max_holders} holder{'s' if max_holders != 1 else ''} at once" if max_holders < 2 else
            f"2+ holders for up to {num(round(longest, 3))} s")
    out.append(_stats(y, line, f"{n_stat} samples", bad=longest > 0.5))
    return "".join(out), {"max_holders": max_holders, "samples": n_stat}


def _marks_lane(ops: list[Op], sc: Scale, y: float, what: str, stat_ops: list[Op] | None = None) -> tuple[str, dict]:
    """Operations as ticks: ok thin green, fail red, info amber (mail sends, sessions)."""
    out = []
    counted = ops if stat_ops is None else stat_ops
    c = Counter(o.type for o in counted)
    for a, b in _segments(ops, 3.0):
        out.append(f'<rect x="{sc.x(a):.1f}" y="{y + LANE / 2 - 2:.1f}" width="{max(sc.x(b) - sc.x(a), 1):.1f}" height="4" fill="#a7d8b5"/>')
    for o in ops:
        if o.type == "ok":
            continue
        x = sc.x(o.end if o.end is not None else o.start)
        tip = f"{what} {o.type} at {num(round(o.end or o.start, 2))} s: {o.error or ''}"
        if o.type == "fail":
            out.append(f'<path d="M{x - 4:.1f},{y + 5:.1f} l8,10 m0,-10 l-8,10" stroke="#cf222e" stroke-width="2.2">'
                       f'<title>{e(tip)}</title></path>')
        else:
            out.append(f'<path d="M{x:.1f},{y + 3:.1f} l5,7 l-5,7 l-5,-7 z" fill="#d4a72c" stroke="#7d4e00" stroke-width=".8">'
                       f'<title>{e(tip)}</title></path>')
    bad = c.get("fail", 0) + c.get("info", 0)
    out.append(_stats(y, f"{c.get('ok', 0)} ok · {c.get('fail', 0)} failed · {c.get('info', 0)} ?",
                      f"{len(counted)} {what} (? = outcome unknown)", bad=bad > 0))
    return "".join(out), dict(c)


#: engine node events: how each is drawn (shape, colour) — down (red), up (green), frozen (amber)
NODE_EVENT_MARK = {"die": ("down", "#cf222e"), "kill": ("down", "#cf222e"), "stop": ("down", "#8c1c13"),
                   "oom": ("down", "#8250df"), "start": ("up", "#1a7f37"), "restart": ("up", "#1a7f37"),
                   "unpause": ("up", "#1a7f37"), "pause": ("square", "#d4a72c")}


def _node_events_lane(ops: list[Op], sc: Scale, y: float) -> tuple[str, dict]:
    """The engine's container events (``node-event`` of harness.engine_events) at the engine's
    time: a down triangle for die/kill/stop/oom, an up triangle for start/restart/unpause, a
    square for pause, a hatched cross where the event stream broke."""
    out, c = [], Counter()
    mid = y + LANE / 2
    for o in ops:
        v = o.value if isinstance(o.value, dict) else {}
        x = sc.x(o.start)
        if o.type != "ok":
            c["stream broken"] += 1
            tip = f"at {o.start:.3f} s: {o.error or 'engine event stream broke'}"
            out.append(f'<path d="M{x - 4:.1f},{y + 5:.1f} l8,10 m0,-10 l-8,10" stroke="#6e7781" stroke-width="2">'
                       f'<title>{e(tip)}</title></path>')
            continue
        ev = str(v.get("event"))
        c[ev] += 1
        shape, color = NODE_EVENT_MARK.get(ev, ("square", "#6e7781"))
        extra = "".join(f", {k} {v[k]}" for k in ("exitCode", "signal") if k in v)
        tip = f"{v.get('node')} {ev} at {o.start:.3f} s (engine time{extra})"
        if shape == "down":
            mark = f'<path d="M{x - 4.5:.1f},{mid - 5:.1f} h9 l-4.5,9 z" fill="{color}">'
        elif shape == "up":
            mark = f'<path d="M{x - 4.5:.1f},{mid + 5:.1f} h9 l-4.5,-9 z" fill="{color}">'
        else:
            mark = f'<rect x="{x - 3.5:.1f}" y="{mid - 3.5:.1f}" width="7" height="7" fill="{color}">'
        out.append(f'{mark}<title>{e(tip)}</title>{"</path>" if shape != "square" else "</rect>"}')
    line = " · ".join(f"{n} {k}" for k, n in sorted(c.items(), key=lambda kv: -kv[1])[:3]) or "none"
    out.append(_stats(y, line, f"{sum(c.values())} engine events", bad=c.get("stream broken", 0) > 0))
    return "".join(out), dict(c)


def _span_lane(spans: list[dict], sc: Scale, y: float) -> str:
    """Labelled spans (tests, bring-up, resync) in one lane."""
    out = []
    for s in spans:
        x0, x1 = sc.x(s["start"]), sc.x(s["end"])
        out.append(f'<rect x="{x0:.1f}" y="{y + 1:.1f}" width="{max(x1 - x0, 1.5):.1f}" height="{LANE - 2}" rx="2" '
                   f'fill="{s.get("fill", "#d8dee4")}" stroke="#ffffff" stroke-width="1"><title>{e(s["tip"])}</title></rect>')
        label = s["label"]
        room = int((x1 - x0 - 6) / 6.0)
        if room >= 4:
            text = label if len(label) <= room else label[: room - 1] + "…"
            out.append(f'<text class="inlane" x="{x0 + 4:.1f}" y="{y + 14:.1f}">{e(text)}<title>{e(s["tip"])}</title></text>')
    return "".join(out)


def timeline_svg(events: list[Event], faults: list[dict], sc: Scale, spans: list[dict], title: str,
                 exclude_tests: frozenset[str] = frozenset()) -> tuple[str, dict]:
    """The availability timeline of one design; returns (svg, per-lane stats).

    Operations of ``exclude_tests`` (runs against deliberately broken variants) are drawn but
    left out of the figures at the right, which describe the cluster under certification.
    """
    def ref(ops: list[Op]) -> list[Op] | None:
        return [o for o in ops if o.invoke.test not in exclude_tests] if exclude_tests else None
    probes = ops_of(events, "probe")
    by_proto: dict[str, list[Op]] = {}
    for o in probes:
        p = (o.invoke.value or {}).get("proto") if isinstance(o.invoke.value, dict) else None
        by_proto.setdefault(str(p or o.proc.removeprefix("probe-")), []).append(o)
    protos = [p for p in PROTO_ORDER if p in by_proto] + sorted(p for p in by_proto if p not in PROTO_ORDER)
    vip = ops_of(events, "vip-holders")
    sends = ops_of(events, "send")
    sessions = ops_of(events, "session")
    conv = ops_of(events, "converge")
    rows = label_rows(faults, sc)
    top = 8 + rows * 13 + 4
    y = top
    parts, stats = [], {}
    test_spans = [s for s in spans if s["kind"] == "test"]
    other_spans = [s for s in spans if s["kind"] != "test"]
    if test_spans:
        parts.append(_lane_label(y, "tests") + _span_lane(test_spans, sc, y))
        y += LANE + GAP
    if other_spans or conv:
        extra = [dict(s) for s in other_spans]
        for o in conv:
            v = o.value if isinstance(o.value, dict) else {}
            if o.end is None:
                continue
            ident = v.get("identical")
            extra.append({"kind": "resync", "start": o.start, "end": o.end,
                          "fill": "#fff8c5" if ident else "#ffd8d3",
                          "label": f"resync {num(v.get('seconds'))} s" if ident else "NOT identical",
                          "tip": f"replicas {'identical' if ident else 'still different'} {num(v.get('seconds'))} s after "
                                 f"{v.get('after') or (o.invoke.value or {}).get('after')}"})
        parts.append(_lane_label(y, "cluster", "bring-up, resync") + _span_lane(extra, sc, y))
        y += LANE + GAP
    # one lane per virtual IP: a design may have several (the mirror's second MX address)
    by_vip: dict[str, list] = {}
    for o in vip:
        by_vip.setdefault(str((o.invoke.value or {}).get("vip") or (o.value or {}).get("vip") or "VIP"), []).append(o)
    for k, (addr, vops) in enumerate(sorted(by_vip.items())):
        svg, stats["vip" if k == 0 else f"vip-{addr}"] = _vip_lane(vops, sc, y, sc.t1, ref(vops))
        parts.append(_lane_label(y, "VIP holder", addr if len(by_vip) > 1 else "") + svg)
        y += LANE + GAP
    nodev = ops_of(events, "node-event")
    if nodev:
        svg, stats["node-events"] = _node_events_lane(nodev, sc, y)
        parts.append(_lane_label(y, "node events", "from the engine") + svg)
        y += LANE + GAP
    for p in protos:
        name = PROTO_LABEL.get(p, p)
        svg, stats[p] = _probe_lane(by_proto[p], sc, y, name, ref(by_proto[p]))
        parts.append(_lane_label(y, name, "probes") + svg)
        y += LANE + GAP
    if sends:
        svg, stats["send"] = _marks_lane(sends, sc, y, "sends", ref(sends))
        parts.append(_lane_label(y, "mail sent", "SMTP workload") + svg)
        y += LANE + GAP
    if sessions:
        svg, stats["session"] = _marks_lane(sessions, sc, y, "sessions", ref(sessions))
        parts.append(_lane_label(y, "sessions", "long-lived") + svg)
        y += LANE + GAP
    bottom = y - GAP
    bgs = "".join(f'<rect x="{X0}" y="{ly:.1f}" width="{X1 - X0}" height="{LANE}" fill="#eef1f4"/>'
                  for ly in range(int(top), int(bottom), LANE + GAP))
    shade, labels = _fault_layer(faults, sc, top, bottom, 18, rows)
    h = bottom + 40
    svg = (f'<svg class="chart" viewBox="0 0 {W} {h:.0f}" role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">'
           f'<title>{e(title)}</title>{_defs()}{_axis(sc, bottom + 4, top)}{bgs}{shade}{"".join(parts)}{labels}</svg>')
    return svg, stats


# -- scatter plots -------------------------------------------------------------------------
def _marker(shape: str, x: float, y: float, color: str, r: float = 2.6) -> str:
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{color}"'
    if shape == "triangle":
        return f'<path d="M{x:.1f},{y - r - .6:.1f} l{r + .6:.1f},{2 * r + .6:.1f} h{-2 * r - 1.2:.1f} z" fill="{color}"'
    if shape == "diamond":
        return f'<path d="M{x:.1f},{y - r - .8:.1f} l{r + .8:.1f},{r + .8:.1f} l{-r - .8:.1f},{r + .8:.1f} l{-r - .8:.1f},{-r - .8:.1f} z" fill="{color}"'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color}"'


class LogY:
    def __init__(self, lo: float, hi: float, top: float, bottom: float):
        self.lo = 10 ** math.floor(math.log10(max(lo, 1e-9)))
        self.hi = 10 ** math.ceil(math.log10(max(hi, self.lo * 10)))
        if self.hi / self.lo < 100:
            self.hi = self.lo * 100
        self.top, self.bottom = top, bottom

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return self.bottom - f * (self.bottom - self.top)

    def ticks(self) -> list[float]:
        out, d = [], self.lo
        while d <= self.hi * 1.0001:
            for m in (1, 2, 5):
                if d * m <= self.hi * 1.0001:
                    out.append(d * m)
            d *= 10
        return out


def scatter_svg(series: list[dict], faults: list[dict], sc: Scale, title: str, unit: str,
                hlines: list[dict] = (), vmarks: list[dict] = ()) -> str:
    """Log-scale scatter of several series [{name, points: [(t, v, tip)]}], one shape each.
    Points are thinned to the largest value per 2-pixel column so spikes stay visible."""
    pts = [v for s in series for _, v, _ in s["points"] if v and v > 0] + [h["value"] for h in hlines]
    if not pts:
        return ""
    rows = label_rows(faults, sc, 2)
    top = 8 + rows * 13 + 6
    bottom = top + 170
    ys = LogY(min(pts), max(pts), top, bottom)
    parts = []
    for t in ys.ticks():
        y = ys.y(t)
        parts.append(f'<line x1="{X0}" y1="{y:.1f}" x2="{X1}" y2="{y:.1f}" stroke="#eaeef2"/>'
                     f'<text class="tick" x="{X0 - 6}" y="{y + 3:.1f}" text-anchor="end">{e(num(t))}</text>')
    parts.append(f'<text class="axis" x="14" y="{(top + bottom) / 2:.1f}" transform="rotate(-90 14 {(top + bottom) / 2:.1f})" '
                 f'text-anchor="middle">{e(unit)} (log scale)</text>')
    # threshold lines are named in the legend column, not at their height: a label there would
    # print over the series names whenever the line sits near the top
    def legend_row(k: int) -> float:  # the legend column: thresholds first, then the series
        return top + 12 + 15 * k

    for i, h in enumerate(hlines):
        y = ys.y(h["value"])
        ly = legend_row(i)
        parts.append(f'<line x1="{X0}" y1="{y:.1f}" x2="{X1}" y2="{y:.1f}" stroke="#cf222e" stroke-width="1.2" stroke-dasharray="6 4"/>'
                     f'<line x1="{X1 + 8}" y1="{ly - 4:.1f}" x2="{X1 + 20}" y2="{ly - 4:.1f}" stroke="#cf222e" stroke-width="1.2" stroke-dasharray="4 2"/>'
                     f'<text class="stat bad" x="{X1 + 24}" y="{ly:.1f}">{e(h["label"])}</text>')
    parts += _vmarks(vmarks, sc, top, bottom)
    for i, s in enumerate(series):
        color, shape = SERIES[i % len(SERIES)]
        best: dict[int, tuple] = {}
        for t, v, tip in s["points"]:
            if v is None or v <= 0:
                continue
            col = int(sc.x(t) // 2)
            if col not in best or v > best[col][1]:
                best[col] = (t, v, tip)
        for t, v, tip in best.values():
            tip = tip() if callable(tip) else tip  # tooltips are built only for the points drawn
            parts.append(_marker(shape, sc.x(t), ys.y(v), color) + f' opacity=".85"><title>{e(tip)}</title>'
                         + ("</rect>" if shape == "square" else "</path>" if shape in ("triangle", "diamond") else "</circle>"))
        ly = legend_row(len(hlines) + i)
        parts.append(_marker(shape, X1 + 14, ly - 4, color, 3.4) + "/>"
                     f'<text class="stat" x="{X1 + 24}" y="{ly:.1f}">{e(s["name"])}</text>')
    shade, labels = _fault_layer(faults, sc, top, bottom, 18, rows) if faults else ("", "")
    h = bottom + 40
    return (f'<svg class="chart" viewBox="0 0 {W} {h:.0f}" role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{e(title)}</title>{_defs()}{shade}{_axis(sc, bottom, top)}{"".join(parts)}{labels}</svg>')


def _vmarks(vmarks: list[dict], sc: Scale, top: float, bottom: float, rows: int = 3) -> list[str]:
    """Dotted vertical marks with labels stacked upwards from the bottom; a label that finds no
    row with room is left out (its line keeps the tooltip), so labels never print over each other."""
    parts, row_end = [], [-1e9] * rows
    for m in sorted(vmarks, key=lambda m: m["t"]):
        x = sc.x(m["t"])
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#9a6700" stroke-width="1.2" '
                     f'stroke-dasharray="2 3"><title>{e(m["tip"])}</title></line>')
        row = next((i for i in range(rows) if row_end[i] < x + 3), None)
        if row is None:
            continue
        row_end[row] = x + 3 + CHAR_W * len(m["label"])
        parts.append(f'<text class="flabel" x="{x + 3:.1f}" y="{bottom - 4 - 13 * row:.1f}">{e(m["label"])}'
                     f'<title>{e(m["tip"])}</title></text>')
    return parts


def latency_svg(events: list[Event], faults: list[dict], sc: Scale) -> str:
    series = {}
    for o in ops_of(events, "probe"):
        if o.type != "ok" or o.end is None:
            continue
        p = (o.invoke.value or {}).get("proto") if isinstance(o.invoke.value, dict) else None
        p = str(p or o.proc.removeprefix("probe-"))
        ms = (o.end - o.start) * 1000
        series.setdefault(p, []).append((o.start, ms, lambda p=p, o=o, ms=ms: (
            f"{PROTO_LABEL.get(p, p)} probe at {num(round(o.start, 2))} s: {num(round(ms, 1))} ms, answered by {o.node or '?'}")))
    order = [p for p in PROTO_ORDER if p in series] + sorted(p for p in series if p not in PROTO_ORDER)
    return scatter_svg([{"name": PROTO_LABEL.get(p, p), "points": series[p]} for p in order], faults, sc,
                       "Probe latency (successful probes)", "milliseconds")


def lag_svg(events: list[Event], faults: list[dict], sc: Scale, threshold: float | None) -> str:
    series: dict[str, list] = {}
    for o in ops_of(events, "lag"):
        if o.type != "ok" or o.end is None or not isinstance(o.value, dict):
            continue
        v = o.value
        s = v.get("seconds")
        if not isinstance(s, (int, float)):
            continue
        name = f"{v.get('from', '?')} → {v.get('to', '?')}"
        series.setdefault(name, []).append((o.end, float(s), f"{v.get('token', '')}: {name} visible after {num(s)} s "
                                                              f"(at {num(round(o.end, 2))} s)"))
    if not series:
        return ""
    marks = []
    for o in ops_of(events, "converge"):
        if o.type == "ok" and isinstance(o.value, dict) and o.end is not None:
            v = o.value
            marks.append({"t": o.end, "label": f"in sync +{num(v.get('seconds'))} s",
                          "tip": f"replicas identical {num(v.get('seconds'))} s after {v.get('after')}"})
    hl = [{"value": threshold, "label": f"lag_p99_s = {num(threshold)} s"}] if threshold else []
    return scatter_svg([{"name": k, "points": series[k]} for k in sorted(series)], faults, sc,
                       "Replication lag per message", "seconds", hl, marks)
