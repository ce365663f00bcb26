"""What the proxy scenarios learn by talking to the servers themselves — inside containers, in
the directory, in the mail logs — recorded in the history first (docs/history.md), so that the
checkers judge it from the history alone and ``mailha analyze`` reproduces every verdict.

Each function records one operation per thing it asks (an ``invoke``, then ``ok`` with the
answer in its value, or ``fail`` with the error when the question could not be asked): a
question that failed is never recorded as a negative answer.

| ``f`` | ``proc`` | ``ok`` value |
|---|---|---|
| ``held-users`` | ``<scenario>-held-<node>`` | ``{node, held: [user, ...]}``: the users a back end knows |
| ``read`` | ``<scenario>-direct-<node>`` | ``{user, mailbox: "*", node, tokens}``: a direct read on a back end |
| ``directory`` | ``route-directory`` | ``{entries: {user: [mailHost, ...]}}`` |
| ``addresses`` | ``segment-inspect`` | ``{node, addresses: [...]}`` |
| ``connect`` | ``segment-client`` | ``{layer, open, closed}`` (see the ``segmentation`` checker) |
| ``route`` / ``unroute`` | ``segment-client`` | ``{via}`` |
| ``maillog`` | ``maillog-<node>`` | ``{node, sent, deferred, bounced, bounce_reasons}`` since ``since`` |
| ``started`` | ``scale-started`` | ``{label, services: {service: start time or null}}`` |
| ``scale-step`` | ``scale-steps`` | ``{step}`` |
| ``restart`` | ``scenario-restart`` | ``{node}``: a stopped container started again (``docker start``) |
"""
from __future__ import annotations

import re
from collections import defaultdict
from contextlib import contextmanager

from harness import docker
from harness.clients.imap import ERRORS as IMAP_ERRORS
from harness.clients.imap import Imap, ImapClient
from harness.clients.ldap import LdapClient
from harness.clients.pop3 import Pop3Client
from harness.errors import HostError

MAILLOG = "/var/log/postfix.log"  # the proxies' Postfix log (compose/proxy/front/postfix/main.cf)


# -- back ends ---------------------------------------------------------------------------------
def held_users(h, topo, node: str, container: str, users, scope: str = "route") -> set[str] | None:
    """The users of ``users`` that a back end knows, asked inside its container with the design's
    ``user_exists`` command (default ``doveadm user {user}``: a userdb lookup, exit 0 if known) —
    no failed logins: Dovecot's per-address auth penalty would slow every later login to 15 s.
    None when the container could not be asked."""
    proc = f"{scope}-held-{node}"
    h.invoke(proc, "held-users", {"node": node, "asked": len(users)})
    cmd = topo.meta.get("user_exists") or "doveadm user {user}"
    script = "; ".join(f"{cmd.format(user=u)} >/dev/null 2>&1 && echo 'HELD {u}'" for u in sorted(users))
    r = docker.exec_(container, script + "; echo DONE", timeout=60)
    if not r.ok or "DONE" not in r.out:
        h.fail(proc, "held-users", {"node": node}, error=(r.err or r.out or "no answer").strip()[-160:])
        return None
    held = sorted(line.split(" ", 1)[1] for line in r.out.splitlines() if line.startswith("HELD "))
    h.ok(proc, "held-users", {"node": node, "held": held})
    return set(held)


def direct_read(h, node: str, addr: str, user: str, password: str, prefix: str, names, scope: str = "route") -> set | None:
    """A user's test tokens (``prefix``) in every mailbox, read directly on a back end."""
    proc = f"{scope}-direct-{node}"
    h.invoke(proc, "read", {"user": user, "mailbox": "*", "node": node})
    try:
        with Imap(addr, 143, user, password, names, 10) as c:
            toks = {m["token"] for mb in c.mailboxes() for m in c.read(mb)["messages"]}
    except IMAP_ERRORS as e:
        h.fail(proc, "read", {"user": user, "mailbox": "*", "node": node}, node=node, error=str(e)[:160])
        return None
    toks = sorted(t for t in toks if t and t.startswith(prefix))
    h.ok(proc, "read", {"user": user, "mailbox": "*", "node": node, "tokens": toks}, node=node)
    return set(toks)


def proxy_reads(h, topo, users: dict[str, str], proxies: list[str]) -> None:
    """IMAP and POP3 through each proxy's own address (not the load balancer), every user
    (``read`` ops of ``route-imap-<proxy>``, ``pop-read`` ops of ``route-pop-<proxy>``)."""
    for px in proxies:
        addr = topo.nodes[px].lan
        imap = ImapClient(h, f"route-imap-{px}", topo.node_names, 10)
        pop = Pop3Client(h, f"route-pop-{px}", topo.node_names, 10)
        for u, pw in sorted(users.items()):
            imap.read(addr, 143, u, pw)
            pop.read(addr, 110, u, pw)


def directory(h, topo) -> dict[str, list[str]] | None:
    """user -> the mailHost values the directory holds for it (every entry with that address)."""
    cfg = topo.meta.get("ldap") or {}
    h.invoke("route-directory", "directory", {"base": cfg.get("base")})
    rows = LdapClient(h, "route-ldap", cfg["host"], int(cfg.get("port", 389))).search(
        cfg["base"], "(objectClass=inetLocalMailRecipient)", attrs=("mail", "mailHost"),
        dn=cfg.get("admin"), password=cfg.get("password"))
    if rows is None:
        h.fail("route-directory", "directory", {"base": cfg.get("base")}, error="the directory search failed")
        return None
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        for m in r.get("mail") or []:
            out[m.lower()] += [str(x) for x in r.get("mailHost") or []]
    entries = {u: sorted(v) for u, v in sorted(out.items())}
    h.ok("route-directory", "directory", {"base": cfg.get("base"), "entries": entries})
    return entries


# -- segmentation --------------------------------------------------------------------------------
def addresses(h, node: str, container: str) -> list[str]:
    """Every address a node's container has (its networks), recorded; [] when it could not be inspected."""
    h.invoke("segment-inspect", "addresses", {"node": node})
    info = docker.inspect(container, "container")
    nets = ((info[0].get("NetworkSettings") or {}).get("Networks") or {}) if info else {}
    ips = sorted(n["IPAddress"] for n in nets.values() if n.get("IPAddress"))
    if not ips:
        h.fail("segment-inspect", "addresses", {"node": node}, error="no address (inspect failed or no network)")
    else:
        h.ok("segment-inspect", "addresses", {"node": node, "addresses": ips})
    return ips


def try_connect(h, client: str, targets: dict[str, str], layer: str, timeout: int) -> None:
    """Open TCP connections from the client container, all at once. A target whose line is
    missing from the answer had no answer (unknown, not closed); a failed exec fails the op."""
    if not targets:
        return
    script = " ".join(
        f"( timeout {timeout} bash -c 'exec 3<>/dev/tcp/{t.split(':')[0]}/{t.split(':')[1]}' 2>/dev/null"
        f" && echo 'open {t}' || echo 'closed {t}' ) &" for t in sorted(targets)) + " wait"
    h.invoke("segment-client", "connect", {"layer": layer, "targets": dict(sorted(targets.items()))})
    r = docker.exec_(client, ["bash", "-c", script], timeout=timeout * 3 + 20)
    if not r.ok:
        h.fail("segment-client", "connect", {"layer": layer}, error=(r.err or r.out or "exec failed").strip()[-160:])
        return
    res: dict[str, str] = {}
    for line in r.out.splitlines():
        state, _, t = line.partition(" ")
        if t in targets and state in ("open", "closed"):
            res[t] = state
    h.ok("segment-client", "connect", {"layer": layer, "open": sorted(t for t, s in res.items() if s == "open"),
                                       "closed": sorted(t for t, s in res.items() if s == "closed")})


def route_via(h, client: str, via: str, gateway: str, ips: list[str]) -> bool:
    """Route ``ips`` from the client through ``gateway`` (a front end)."""
    h.invoke("segment-client", "route", {"via": via, "gateway": gateway, "targets": ips})
    r = docker.exec_(client, " && ".join(f"ip route replace {ip}/32 via {gateway}" for ip in ips), timeout=15)
    if not r.ok:
        h.fail("segment-client", "route", {"via": via}, error=(r.err or r.out or "exec failed").strip()[-160:])
        return False
    h.ok("segment-client", "route", {"via": via})
    return True


def unroute(h, client: str, via: str, ips: list[str]) -> None:
    h.invoke("segment-client", "unroute", {"via": via, "targets": ips})
    r = docker.exec_(client, " ; ".join(f"ip route del {ip}/32" for ip in ips), timeout=15)
    (h.ok if r.ok else h.fail)("segment-client", "unroute", {"via": via},
                               **({} if r.ok else {"error": (r.err or r.out or "exec failed").strip()[-160:]}))


# -- delivery outcomes ---------------------------------------------------------------------------
def maillog_marks(topo, proxies: list[str]) -> dict[str, int | None]:
    """Current size of every proxy's Postfix log (outcomes are read from there on); None when
    it could not be read."""
    out: dict[str, int | None] = {}
    for p in proxies:
        r = docker.exec_(topo.container(p), f"stat -c %s {MAILLOG}", timeout=10)
        out[p] = int(r.out.strip().splitlines()[-1]) if r.ok and r.out.strip().isdigit() else None
    return out


def maillog(h, topo, marks: dict[str, int | None]) -> None:
    """LMTP delivery outcomes each proxy's Postfix logged since its mark: sent / deferred /
    bounced, and the reasons of bounces (a bounce is mail lost for its recipient)."""
    for p, offset in sorted(marks.items()):
        proc = f"maillog-{p}"
        h.invoke(proc, "maillog", {"node": p, "since": offset})
        if offset is None:
            h.fail(proc, "maillog", {"node": p}, error="the log's size was not read before the fault")
            continue
        r = docker.exec_(topo.container(p), f"tail -c +{offset + 1} {MAILLOG}", timeout=30)
        if not r.ok:
            h.fail(proc, "maillog", {"node": p}, error=(r.err or r.out or "exec failed").strip()[-160:])
            continue
        out = {"node": p, "sent": 0, "deferred": 0, "bounced": 0, "bounce_reasons": []}
        for line in r.out.splitlines():
            m = re.search(r"status=(sent|deferred|bounced)", line)
            if m and "/lmtp[" in line:
                out[m.group(1)] += 1
                if m.group(1) == "bounced" and len(out["bounce_reasons"]) < 3:
                    out["bounce_reasons"].append(line.split("status=bounced", 1)[1].strip()[:160])
        h.ok(proc, "maillog", out)


# -- growth and restarts ---------------------------------------------------------------------------
def started(h, cluster, label: str) -> dict[str, str | None]:
    """service -> container start time (a restart changes it); None where inspect failed."""
    h.invoke("scale-started", "started", {"label": label})
    out: dict[str, str | None] = {}
    for svc, name in sorted(cluster.containers().items()):
        try:
            info = docker.inspect(name, "container")
        except HostError:
            info = []
        out[svc] = ((info[0].get("State") or {}).get("StartedAt") or None) if info else None
    h.ok("scale-started", "started", {"label": label, "services": out})
    return out


@contextmanager
def step(h, name: str):
    """One growth step as a ``scale-step`` op: its duration is the figure, an exception fails it."""
    h.invoke("scale-steps", "scale-step", {"step": name})
    try:
        yield
    except BaseException as e:
        h.fail("scale-steps", "scale-step", {"step": name}, error=str(e)[:200] or type(e).__name__)
        raise
    h.ok("scale-steps", "scale-step", {"step": name})


def restart(h, topo, node: str) -> None:
    """Start a stopped node's container again without waiting for it to be ready (the nemesis's
    heal confirms that later): the node must come up by itself."""
    h.invoke("scenario-restart", "restart", {"node": node})
    try:
        docker.start(topo.container(node), timeout=60)
    except HostError as e:
        h.fail("scenario-restart", "restart", {"node": node}, error=str(e)[-160:])
        raise AssertionError(f"{node} could not be started again: {str(e)[-160:]}") from None
    h.ok("scenario-restart", "restart", {"node": node})
