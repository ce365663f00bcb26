"""What a test needs to know about a running design, read from its ``x-mailha`` block:
nodes and their addresses, client endpoints, MX addresses, virtual IPs, users, daemons."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    name: str
    service: str
    lan: str | None
    xover: str | None
    data: bool
    meta: dict


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
