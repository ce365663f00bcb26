"""``routing``: does every user live on exactly one back end — the one the design places it on —
and does every front end route the user there?

Options: ``owners`` {user: back end} (the design's placement), ``proxies`` (the front ends
whose reads are required), ``hosts`` {value: node} (the directory values that name each node:
its address, name, service), ``prefix`` (the test's own message tokens).

Reads, all recorded by the scenario:
- ``send`` ops of ``route-smtp``: the messages for every user through the client endpoint;
- ``held-users`` ops (``{node}`` -> ``{node, held: [user, ...]}``): the users each back end
  knows, asked inside it; a back end not asked, or not answering, leaves placement unknown;
- ``read`` ops of ``route-direct-<back end>`` (``{user, node}`` -> ``{tokens}``): the user's
  test tokens read directly on a back end that knows the user;
- ``read`` / ``pop-read`` ops of ``route-imap-<proxy>`` / ``route-pop-<proxy>``: what IMAP and
  POP3 through each front end's own address show;
- ``directory`` ops (-> ``{entries: {user: [mailHost, ...]}}``): the directory's placement.

Two results, each pass / fail / unknown with its reasons:
- ``one_backend``: fails when a user is known to no back end or to several, has mail on
  several, or has several directory entries; unknown when a back end's users or the directory
  were not read.
- ``routes``: fails when a directory value is a host name rather than an address (routing
  then needs the name service at every delivery; Docker's DNS forgets stopped containers), or
  names another node than the design's, when a message was refused, when an accepted message
  is not on the user's back end, or when a read through a front end failed or showed other
  mail than that back end holds. Unknown when the directory, the owner's direct read or a
  front end's read of a user is missing.

``valid`` is the worse of the two.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict

from .common import CAP, addr, measure, ops_of


def check(events, *, owners=None, proxies=(), hosts=None, prefix="", per_user=None) -> dict:
    owners = {addr(u): b for u, b in (owners or {}).items()}
    users = sorted(owners)
    hosts = dict(hosts or {})
    backends = sorted(set(owners.values()))
    pfx = str(prefix or "")

    # -- what was recorded ---------------------------------------------------------------------
    acked, refused = defaultdict(set), defaultdict(list)
    for op in ops_of(events, "send"):
        if not op.proc.startswith("route-smtp"):
            continue
        v = op.invoke.value or {}
        u, tok = addr(v.get("to", "")), v.get("token")
        if not str(tok or "").startswith(pfx):
            continue
        if op.type == "ok":
            acked[u].add(tok)
        else:
            refused[u].append(op.error or "refused")
    held, held_missing = {}, []
    for op in ops_of(events, "held-users"):
        node = (op.invoke.value or {}).get("node")
        if op.type == "ok":
            held[node] = {addr(x) for x in (op.value or {}).get("held") or []}
    held_missing = [b for b in backends if b not in held]
    direct: dict[str, dict[str, set | None]] = defaultdict(dict)  # user -> {backend: tokens | None (failed)}
    for op in ops_of(events, "read"):
        if not op.proc.startswith("route-direct-"):
            continue
        v = op.invoke.value or {}
        u, node = addr(v.get("user", "")), v.get("node") or op.proc.removeprefix("route-direct-")
        direct[u][node] = {t for t in (op.value or {}).get("tokens") or [] if str(t).startswith(pfx)} \
            if op.type == "ok" else None
    via: dict[str, dict[tuple, set | None]] = defaultdict(dict)  # user -> {(proxy, proto): tokens | None}
    for op in ops_of(events, ("read", "pop-read")):
        for px in proxies:
            proto = "imap" if op.proc == f"route-imap-{px}" else "pop3" if op.proc == f"route-pop-{px}" else None
            if proto is None:
                continue
            u = addr((op.invoke.value or {}).get("user", ""))
            if op.type != "ok":
                via[u][(px, proto)] = None
                continue
            v = op.value or {}
            toks = [m.get("token") for m in v.get("messages") or []] if proto == "imap" else list(v.get("tokens") or [])
            via[u][(px, proto)] = {t for t in toks if str(t or "").startswith(pfx)}
    directory = None
    for op in ops_of(events, "directory"):
        directory = {addr(u): [str(h) for h in hs] for u, hs in ((op.value or {}).get("entries") or {}).items()} \
            if op.type == "ok" else None

    # -- one back end per user -----------------------------------------------------------------
    one_fail, one_unknown = [], []
    exactly_one = 0
    for u in users:
        knows = sorted(b for b, us in held.items() if u in us)
        if len(knows) == 1:
            exactly_one += 1
        elif len(knows) > 1 or not held_missing:
            one_fail.append(f"{u} can log in on {len(knows)} back ends ({', '.join(knows) or 'none'})")
        with_mail = sorted(b for b, toks in direct.get(u, {}).items() if toks)
        if len(with_mail) > 1:
            one_fail.append(f"{u} has mail on {', '.join(with_mail)}")
        if directory is not None and len(directory.get(u, [])) > 1:
            one_fail.append(f"{u} has {len(directory[u])} directory entries (mailHost {', '.join(directory[u])})")
    if held_missing:
        one_unknown.append(f"the users of {', '.join(held_missing)} were not read")
    if directory is None:
        one_unknown.append("the directory was not read")

    # -- routes ------------------------------------------------------------------------------
    r_fail, r_unknown = [], []
    for u in users:
        want = owners[u]
        if directory is not None:
            hs = directory.get(u, [])
            names = [h for h in hs if not _is_address(h)]
            if names:
                r_fail.append(f"{u}: mailHost {', '.join(names)} is a host name, not an address — routing then needs "
                              f"the name service at every delivery, and a stopped back end becomes 'host not found': "
                              f"bounced mail where DNS answers NXDOMAIN (Docker's DNS forgets stopped containers), "
                              f"stalled lookups where it does not")
            named = {hosts.get(h) for h in hs}
            if named != {want}:
                r_fail.append(f"{u}: LDAP mailHost {', '.join(hs) or 'missing'} names "
                              f"{', '.join(sorted(str(x) for x in named)) or 'no node'}, the design places it on {want}")
        if refused.get(u):
            r_fail.append(f"{u}: {len(refused[u])} messages refused ({refused[u][0]})")
        got = direct.get(u, {}).get(want)
        if got is None:
            r_unknown.append(f"{u}: not read directly on {want}")
        elif acked[u] - got:
            elsewhere = sorted(b for b, toks in direct.get(u, {}).items() if toks and toks & acked[u] and b != want)
            r_fail.append(f"{u}: {len(acked[u] - got)} of {len(acked[u])} accepted messages not on {want}"
                          + (f" (found on {', '.join(elsewhere)})" if elsewhere else ""))
        for px in sorted(proxies):
            for proto in ("imap", "pop3"):
                if (px, proto) not in via.get(u, {}):
                    r_unknown.append(f"{u}: {proto.upper()} through {px} not tried")
                    continue
                toks = via[u][(px, proto)]
                if toks is None:
                    r_fail.append(f"{u}: {proto.upper()} through {px} failed")
                elif got is not None and toks != got:
                    r_fail.append(f"{u}: {proto.upper()} through {px} shows {len(toks)} messages, {want} holds {len(got)}")
    if directory is None:
        r_unknown.append("the directory was not read")
    if not users:
        one_unknown.append("no users to check")
        r_unknown.append("no users to check")

    one = _part(one_fail, one_unknown)
    routes = _part(r_fail, r_unknown)
    one["numbers"] = {"users_checked": measure(len(users), None, "", ">="),
                      "users_on_exactly_one_backend": measure(exactly_one, len(users), "", ">=")}
    routes["numbers"] = {"messages_routed": measure(sum(len(a) for a in acked.values()), None, "", ">="),
                         "reads_through_proxies": measure(sum(len(v) for v in via.values()), None, "", ">="),
                         "routing_mismatches": measure(len(r_fail), 0, "", "<=")}
    worst = "fail" if "fail" in (one["valid"], routes["valid"]) else \
        "unknown" if "unknown" in (one["valid"], routes["valid"]) else "pass"
    return {"valid": worst, "reasons": (one["reasons"] + routes["reasons"])[:CAP],
            "one_backend": one, "routes": routes}


def _part(failures: list[str], unknown: list[str]) -> dict:
    if failures:
        return {"valid": "fail", "reasons": failures[:CAP], "count": len(failures)}
    if unknown:
        return {"valid": "unknown", "reasons": unknown[:CAP], "count": len(unknown)}
    return {"valid": "pass", "reasons": [], "count": 0}


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return False
