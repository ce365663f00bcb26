"""What a test needs to know about a running design, read from its ``x-mailha`` block:
nodes and their addresses, client endpoints, MX addresses, virtual IPs, users, daemons, and
for each node its tier, what it serves (the probe that says it answers) and the kinds of
fault target it is.

The per-node facts are pure functions of the block (``node_tier``, ``node_serves``,
``node_daemons``, ``node_kinds``) so that the chaos schedule, which has no running cluster,
reads the same definitions as the nemesis.
"""
from __future__ import annotations

from dataclasses import dataclass

#: what a node of a tier answers when its ``x-mailha.nodes`` entry has no ``serves``
#: (docs/overrides.md). A tier not listed serves IMAP on 143 (a mail node, a front proxy);
#: a load balancer serves the design's client endpoints (``endpoint_serves``).
SERVES_BY_TIER: dict[str, dict] = {
    "directory": {"proto": "ldap", "port": 389},
    "nas": {"proto": "rpc", "port": 24007},      # glusterd; an NFS NAS says {proto: rpc, port: 2049, program: 100003, version: 3}
    "webmail": {"proto": "http", "port": 80},
    "filter": {"proto": "smtp", "port": 25},
}
DEFAULT_SERVES = {"proto": "imap", "port": 143}

#: tiers whose servers run none of the design's ``daemons`` (unless a node lists its own)
NO_DAEMON_TIERS = ("lb", "directory", "nas", "webmail")

#: tiers that are a kind of fault target of their own (besides "node")
TIER_KINDS = {"lb": "lb", "directory": "directory", "nas": "nas"}


def node_tier(info: dict) -> str | None:
    """A node's tier: its ``tier`` (``role`` is read as a synonym), None when it has none."""
    t = (info or {}).get("tier") or (info or {}).get("role")
    return str(t) if t else None


def endpoint_serves(meta: dict) -> dict:
    """What a load balancer serves: the design's IMAP endpoint port, else its first endpoint."""
    eps = meta.get("endpoints") or {}
    for proto in ("imap", "smtp", "pop3", "http"):
        if proto in eps:
            return {"proto": proto, "port": int(eps[proto]["port"])}
    return dict(DEFAULT_SERVES)


def node_serves(info: dict, meta: dict) -> dict:
    """The protocol probe that says a node answers: ``{proto, port, ...}`` (readiness checks'
    protocols: imap, smtp, pop3, http, ldap, rpc, toxiproxy). From the node's ``serves``, else
    by its tier (``SERVES_BY_TIER``; a load balancer: ``endpoint_serves``), else IMAP on 143."""
    own = (info or {}).get("serves")
    if own:
        if not isinstance(own, dict) or not own.get("proto"):
            raise ValueError(f"a node's serves must be a mapping with proto (and port), not {own!r}.")
        return dict(own)
    tier = node_tier(info)
    if tier == "lb":
        return endpoint_serves(meta)
    return dict(SERVES_BY_TIER.get(tier or "", DEFAULT_SERVES))


def node_daemons(info: dict, meta: dict) -> list[str]:
    """The design's daemons this node runs (what ``daemon-kill`` may kill on it): the node's own
    ``daemons`` list, else every one of ``x-mailha.daemons`` unless its tier runs none."""
    if (info or {}).get("daemons") is not None:
        return list(info["daemons"])
    if node_tier(info) in NO_DAEMON_TIERS:
        return []
    return list(meta.get("daemons") or {})


def node_kinds(info: dict, meta: dict) -> tuple[str, ...]:
    """The kinds of fault target a node is: always ``node``; ``daemon`` when it runs any of the
    design's daemons; ``lb``, ``directory`` or ``nas`` by its tier."""
    kinds = ["node"]
    if node_daemons(info, meta):
        kinds.append("daemon")
    k = TIER_KINDS.get(node_tier(info) or "")
    if k:
        kinds.append(k)
    return tuple(kinds)


@dataclass(frozen=True)
class Node:
    name: str
    service: str
    lan: str | None
    xover: str | None
    data: bool
    meta: dict

    @property
    def tier(self) -> str | None:
        return node_tier(self.meta)


class Topology:
    def __init__(self, cluster):
        self.cluster = cluster
        self.meta = cluster.meta
        self.design = cluster.design
        self.nodes: dict[str, Node] = {
            name: Node(name, n.get("service", name), n.get("lan"), n.get("xover"), bool(n.get("data")), n)
            for name, n in (self.meta.get("nodes") or {}).items()
        }
        self.domain = self.meta.get("domain", "example.test")

    # -- nodes ------------------------------------------------------------------------------
    @property
    def node_names(self) -> list[str]:
        return list(self.nodes)

    def data_nodes(self) -> list[Node]:
        """Nodes that hold a replica of the mailboxes (read at the end of every scenario)."""
        return [n for n in self.nodes.values() if n.data]

    def container(self, node: str) -> str:
        return self.cluster.container(self.nodes[node].service)

    def tier(self, node: str) -> str | None:
        return self.nodes[node].tier

    def serves(self, node: str) -> dict:
        """The probe that says ``node`` answers, as a readiness spec: ``{proto, port, host, ...}``
        with ``host`` its ``lan`` address (``node_serves``)."""
        n = self.nodes[node]
        return {"host": n.lan, **node_serves(n.meta, self.meta)}

    def kinds(self, node: str) -> tuple[str, ...]:
        return node_kinds(self.nodes[node].meta, self.meta)

    def daemons_of(self, node: str) -> list[str]:
        return node_daemons(self.nodes[node].meta, self.meta)

    # -- clients ------------------------------------------------------------------------------
    def endpoint(self, proto: str) -> tuple[str, int]:
        return self.cluster.endpoint(proto)

    def has_endpoint(self, proto: str) -> bool:
        return proto in (self.meta.get("endpoints") or {})

    def mx(self) -> list[tuple[str, int]]:
        mx = self.meta.get("mx")
        if mx:
            return [(m["host"], int(m["port"])) for m in mx]
        return [self.endpoint("smtp")]

    @property
    def vips(self) -> list[str]:
        return list(self.meta.get("vips") or [])

    def users(self) -> dict[str, str]:
        """user -> password of the workload users."""
        u = self.meta.get("users") or {}
        if isinstance(u, dict) and "count" in u:
            prefix, count, pw = u.get("prefix", "user"), int(u["count"]), u.get("password", "pw-{user}")
            out = {}
            for i in range(1, count + 1):
                local = f"{prefix}{i}"
                out[f"{local}@{self.domain}"] = pw.format(user=local)
            return out
        return dict(u)

    def users_of(self, node: str) -> dict[str, str]:
        """The workload users whose mailboxes ``node`` holds: all of them, unless the node says
        ``users: "1-10"`` (indices of the workload users, ranges joined by commas) — one store per
        user, as in the proxy design's back ends."""
        everyone = self.users()
        spec = self.nodes[node].meta.get("users")
        if spec is None:
            return everyone
        wanted: set[int] = set()
        for part in str(spec).split(","):
            lo, _, hi = part.strip().partition("-")
            wanted.update(range(int(lo), int(hi or lo) + 1))
        return {u: pw for i, (u, pw) in enumerate(everyone.items(), 1) if i in wanted}

    def holder_of(self, user: str) -> list[str]:
        """The data nodes that hold ``user``'s mailboxes."""
        return [n.name for n in self.data_nodes() if user in self.users_of(n.name)]

    def probe_user(self) -> tuple[str, str]:
        p = self.meta.get("probe_user") or {}
        if p:
            return p["user"], p["password"]
        return next(iter(self.users().items()))

    def daemon(self, name: str) -> dict:
        d = (self.meta.get("daemons") or {}).get(name)
        if not d:
            raise KeyError(f"design {self.design} declares no daemon {name!r} in x-mailha.daemons")
        return d

    def toxiproxy(self) -> dict | None:
        return self.meta.get("toxiproxy")

    def link(self, name: str) -> dict:
        links = self.meta.get("links") or {}
        if name not in links:
            raise KeyError(f"design {self.design} has no link {name!r}; links: {', '.join(links)}")
        return links[name]

    def address(self, node: str, network: str) -> str:
        """A node's address on a network (``lan``/``xover`` keys, or from docker inspect)."""
        n = self.nodes[node]
        if network in n.meta:
            return n.meta[network]
        raise KeyError(f"node {node} has no address on {network!r} in x-mailha.nodes")
