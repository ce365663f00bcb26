"""``segmentation``: from a client machine, do the front ends answer while no port of an inner
layer (back ends, directory) opens — directly, or with a route through a front end?

Reads ``connect`` ops (one batch of TCP connects from the client machine): invoke
``{layer, targets: {"ip:port": node}}``, ``ok`` ``{layer, open: [...], closed: [...]}``
(each target listed once; a target in neither list had no answer), ``fail`` when the batch
could not run at all. Layers: ``front`` (must open), ``inner`` (must stay closed) and
``inner-via-<proxy>`` (the inner targets again, routed through that front end, which must not
forward). ``route`` ops record setting those routes up (``{via}``); ``addresses`` ops the
addresses of each inner node (``{node}`` -> ``{node, addresses}``), whose ports were tried.

- **open inner**: an inner target that opened, in any layer: fails.
- **front closed**: a front target that did not open: nothing is proven, ``unknown`` (unless
  an inner port opened).
- ``unknown`` too when a batch failed or left targets without an answer (a failed probe is
  never a closed port), when a layer is missing (``inner``, or ``inner-via-<p>`` for each of
  ``proxies``; a route that could not be set counts as missing), when a node's addresses were
  not read (its ports were not all tried), or when no inner target was tried.
"""
from __future__ import annotations

from .common import CAP, decided, measure, ops_of


def check(events, *, proxies=()) -> dict:
    layers: dict[str, dict] = {}
    problems = []
    for op in ops_of(events, "connect"):
        iv = op.invoke.value or {}
        layer = str(iv.get("layer"))
        targets = iv.get("targets") or {}
        if isinstance(targets, list):
            targets = {t: None for t in targets}
        if op.type != "ok":
            problems.append(f"{layer}: the connects did not run ({op.error})")
            layers.setdefault(layer, {"targets": targets, "open": set(), "closed": set()})
            continue
        v = op.value or {}
        opened, closed = set(v.get("open") or []), set(v.get("closed") or []) - set(v.get("open") or [])
        layers[layer] = {"targets": targets, "open": opened & set(targets), "closed": closed & set(targets)}
        unanswered = sorted(set(targets) - opened - closed)
        if unanswered:
            problems.append(f"{layer}: {len(unanswered)} targets had no answer (e.g. {unanswered[0]})")
    for op in ops_of(events, "addresses"):
        if op.type != "ok" or not (op.value or {}).get("addresses"):
            problems.append(f"the addresses of {(op.invoke.value or {}).get('node')} were not read ({op.error}): "
                            f"its ports were not all tried")
    for op in ops_of(events, "route"):
        if op.type != "ok":
            problems.append(f"routing through {(op.invoke.value or {}).get('via')} could not be set up ({op.error})")

    front = layers.get("front", {"targets": {}, "open": set(), "closed": set()})
    front_closed = sorted(set(front["targets"]) - front["open"])
    inner_layers = {k: v for k, v in layers.items() if k == "inner" or k.startswith("inner-via-")}
    open_inner = sorted(f"{t}" + (f" via {k.removeprefix('inner-via-')}" if k != "inner" else "")
                        + (f" ({v['targets'].get(t)})" if v["targets"].get(t) else "")
                        for k, v in inner_layers.items() for t in v["open"])
    tried = sum(len(v["targets"]) for v in inner_layers.values())
    missing_layers = [name for name in ["front", "inner"] + [f"inner-via-{p}" for p in sorted(proxies or [])]
                      if name not in layers]

    failures = [f"{t} opens from the client network" for t in open_inner]
    unknown = list(problems)
    if front_closed:
        unknown.append(f"the front ends do not answer the client ({', '.join(front_closed[:4])}): nothing was proven")
    if missing_layers:
        unknown.append(f"not tried: {', '.join(missing_layers)}")
    if not tried:
        unknown.append("no inner port was tried")
    out = decided(failures, unknown)
    n_front = len(front["targets"])
    out.update({
        "numbers": {"front_ports_open": measure(len(front["open"]), n_front, "", ">="),
                    "inner_ports_tried": measure(tried, None, "", ">="),
                    "inner_ports_open": measure(len(open_inner), 0, "", "<=")},
        "layers": {k: {"tried": len(v["targets"]), "open": len(v["open"]), "closed": len(v["closed"])}
                   for k, v in sorted(layers.items())},
        "open_inner": open_inner[:CAP],
    })
    return out
