"""``lag``: replication lag, from visible on one node to visible on its peer.

From ``lag`` ops (``f``: or ``idle-lag``, the same measure to a client waiting in IMAP IDLE; ``value.seconds``; ``value.first``: the node it was visible on first, when
known — per-direction figures use it). Percentiles by the nearest-rank method
(``common.nearest_rank``: always an observed sample, no interpolation). A lag op that
failed never became visible on the peer before the observer's deadline: it is counted
(``failed``) and fails the check unless ``max_failed`` allows it.
"""
from __future__ import annotations

from collections import defaultdict

from .common import measure, ops_of, quantiles, rnd, threshold, value, verdict, within


def check(events, *, p99_bound_s=None, min_ok=None, max_failed=0, f="lag") -> dict:
    bound = threshold("lag_p99_s") if p99_bound_s is None else float(p99_bound_s)
    samples, by_dir, failed = [], defaultdict(list), defaultdict(int)
    for op in ops_of(events, f):
        v = value(op)
        # the replication's direction: from the node the message showed first on (``first``; a
        # cluster that delivers to its active node saves it there, whichever node it was sent to)
        src, dst = v.get("from"), v.get("to")
        if v.get("first") == dst:
            src, dst = dst, src
        direction = f"{src}->{dst}"
        if op.type == "ok" and isinstance(v.get("seconds"), (int, float)):
            samples.append(float(v["seconds"]))
            by_dir[direction].append(float(v["seconds"]))
        else:
            failed[direction] += 1
    q = quantiles(samples)
    failures = []
    if q["p99"] is not None and not within(q["p99"], bound, "<="):
        failures.append(f"p99 lag {q['p99']} s > {rnd(bound)} s")
    n_failed = sum(failed.values())
    if max_failed is not None and n_failed > max_failed:
        failures.append(f"{n_failed} messages never became visible on the peer")
    out = verdict(failures, ok=len(samples), min_ok=min_ok, missing=None if samples or failed else f"no {f} ops")
    out.update({
        "unit": "s",
        **q,
        "p99_bound": measure(q["p99"], bound, "s", "<="),
        "failed": n_failed,
        "directions": {d: {**quantiles(by_dir.get(d, [])), "failed": failed.get(d, 0)}
                       for d in sorted(set(by_dir) | set(failed))},
    })
    return out
