"""``load``: how sessions spread over the nodes (load sharing).

From the ``ok`` ops of ``f`` (default ``probe`` and ``session``) that name the ``node``
that answered: per protocol and overall, counts and shares per node. The fair share is
1 / len(nodes) (``nodes``: a list, a {proto: list} dict, or inferred from who answered);
a node is ``within_band`` when its share lies within fair × (1 ± ``band``).

``measured`` (for the claims matrix): "Yes" if every protocol spreads within the band over
two or more nodes, "No" if every protocol lands on a single node, "Some" otherwise.
Protocols with fewer than ``min_ok`` ops are left out (``insufficient``). ``expect``
judges like the claims matrix: a measured value at or above the expected one passes;
``expect=None`` only measures.
"""
from __future__ import annotations

from collections import defaultdict

from .common import MIN_OK, names, ops_of, rnd, threshold, value, verdict

RANK = {"No": 0, "Some": 1, "Yes": 2}


def check(events, *, f=("probe", "session"), nodes=None, band=None, expect=None, protos=None, min_ok=None) -> dict:
    if expect is not None and expect not in RANK:
        raise ValueError(f"expect must be one of {', '.join(RANK)} or None, got {expect!r}")
    band = threshold("load_share_band") if band is None else float(band)
    least = MIN_OK if min_ok is None else int(min_ok)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for op in ops_of(events, f):
        if op.type == "ok" and op.node:
            counts[_proto(op)][op.node] += 1
    if protos:
        counts = {p: counts.get(p, {}) for p in names(protos)}
    seen = sorted({n for c in counts.values() for n in c})
    per_proto = {}
    for p in sorted(counts):
        want = nodes.get(p, seen) if isinstance(nodes, dict) else (nodes or seen)
        per_proto[p] = _spread(counts[p], names(want), band)
    everything = defaultdict(int)
    for c in counts.values():
        for n, k in c.items():
            everything[n] += k
    all_nodes = sorted({n for p in per_proto.values() for n in p["nodes"]} | set(everything))
    judged = {p: r for p, r in per_proto.items() if r["ops"] >= least}
    if not judged:
        measured = None
    elif all(r["spread"] for r in judged.values()):
        measured = "Yes"
    elif all(r["used"] <= 1 for r in judged.values()):
        measured = "No"
    else:
        measured = "Some"
    failures = []
    if expect is not None and measured is not None and RANK[measured] < RANK[expect]:
        failures.append(f"load sharing measured {measured}, expected {expect}")
    total = sum(everything.values())
    out = verdict(failures, ok=total if judged else 0, min_ok=least,
                  missing=None if counts else "no ok ops with a node")
    out.update({"measured": measured, "expect": expect, "band": rnd(band), "ops": total,
                "overall": _spread(everything, all_nodes, band),
                "protos": per_proto, "insufficient": sorted(set(per_proto) - set(judged))})
    return out


# workload operations carry no proto field: their function says which protocol served them
F_PROTO = {"send": "smtp", "read": "imap", "flag": "imap", "expunge": "imap", "move": "imap",
           "pop-read": "pop3", "pop-delete": "pop3", "webmail-list": "http"}


def _proto(op) -> str:
    p = value(op).get("proto") or op.invoke.value and op.invoke.value.get("proto")
    if p:
        return str(p)
    if op.f in F_PROTO:
        return F_PROTO[op.f]
    parts = op.proc.split("-")  # probe-imap, session-imap-3
    return parts[1] if len(parts) > 1 else op.proc


def _spread(counts, nodes: list[str], band: float) -> dict:
    total = sum(counts.get(n, 0) for n in nodes)
    fair = 1 / len(nodes) if nodes else None
    rows = {}
    for n in nodes:
        share = counts.get(n, 0) / total if total else 0.0
        ok = fair is not None and fair * (1 - band) - 1e-9 <= share <= fair * (1 + band) + 1e-9
        rows[n] = {"count": counts.get(n, 0), "share": rnd(share), "within_band": ok}
    used = sum(1 for n in nodes if counts.get(n, 0))
    return {"ops": total, "nodes": rows, "fair_share": rnd(fair), "used": used,
            "spread": len(nodes) >= 2 and total > 0 and all(r["within_band"] for r in rows.values())}
