"""Design IV's certification scenarios (domain split through proxies and LDAP). Each runs against
whatever proxy cluster it is given — the reference cluster or a broken variant — and returns the
claims it measured.

Who is who comes from ``x-mailha``: nodes with ``tier: front`` are the proxies, ``data: true``
nodes are the back ends (``users`` says whose mailboxes each holds), ``tier: directory`` is LDAP,
``client`` is a machine on the client network. The tests in this folder call these functions on
the reference cluster and require every claim to hold; test_variants.py calls them on broken
variants and requires the right claim to fail.
"""
from __future__ import annotations

import re
import time
from collections import Counter, defaultdict

from harness import docker, e2e
from harness.certification import Certifier, from_check, gaps, num, verdict
from harness.clients.imap import ERRORS as IMAP_ERRORS
from harness.clients.imap import Imap, ImapClient
from harness.clients.ldap import LdapClient
from harness.clients.pop3 import Pop3Client
from harness.clients.smtp import SmtpClient
from harness.history import ops as history_ops

from .probes import GroupProbes, OpenSessions

# a clean temporary refusal: Dovecot's [UNAVAILABLE] / [SYS/TEMP], an SMTP 4xx
TEMPORARY = re.compile(r"UNAVAILABLE|SYS/TEMP|[Tt]emporar|(^|\D)4\d\d(\D|$)")
# a refusal that makes a client give up: wrong password, unknown user, a 5xx
PERMANENT = re.compile(r"(^|\D)5\d\d(\D|$)|AUTHENTICATIONFAILED|\[AUTH\]|[Aa]uthentication failed|[Uu]ser unknown")
# the client gave up waiting: a hang, whatever the bound
HANG = re.compile(r"[Tt]imed? ?out")
USER_OPS = ("send", "read", "flag", "expunge", "move", "pop-read", "pop-delete", "webmail-list", "session", "probe")


# -- who is who ----------------------------------------------------------------------------------
def backends(topo) -> list[str]:
    return [n.name for n in topo.data_nodes()]


def proxies(topo) -> list[str]:
    return [n for n, node in topo.nodes.items() if node.meta.get("tier") == "front"]


def groups(topo) -> dict[str, dict[str, str]]:
    """back end -> the workload users it holds."""
    return {b: topo.users_of(b) for b in backends(topo)}


def owner_of(topo) -> dict[str, str]:
    """user -> the back end that holds it (from the design's x-mailha nodes)."""
    return {u: b for b, us in groups(topo).items() for u in us}


def node_of_mailhost(topo, value: str) -> str | None:
    """The node an LDAP mailHost value names (its address, or its name)."""
    for name, n in topo.nodes.items():
        if value in (name, n.service, n.meta.get("mailhost"), n.lan):
            return name
    return None


# -- history helpers -------------------------------------------------------------------------------
def test_ops(cert: Certifier, sc, f=USER_OPS) -> list:
    ev = [e for e in cert.h.snapshot() if e.test == cert.nodeid and sc.window[0] <= e.t <= sc.window[1]]
    return history_ops(ev, f)


def user_of(op) -> str | None:
    v = op.invoke.value or {}
    u = v.get("user") or v.get("to")
    return u.lower() if isinstance(u, str) else None


def proto_of(op) -> str:
    v = op.invoke.value or {}
    if v.get("proto"):
        return str(v["proto"]).split("@")[0]
    return {"send": "smtp", "pop-read": "pop3", "pop-delete": "pop3", "webmail-list": "http"}.get(op.f, "imap")


def fault_window(cert: Certifier, fid: str) -> tuple[float, float]:
    """(fault applied, heal started) of one nemesis fault of this test, in history time."""
    start = end = None
    for e in cert.h.snapshot():
        if e.proc == "nemesis" and e.test == cert.nodeid and (e.value or {}).get("id") == fid:
            if e.f == "fault" and e.type == "ok":
                start = e.t
            elif e.f == "heal" and e.type == "invoke":
                end = e.t
    return start, end


MAILLOG = "/var/log/postfix.log"  # the proxies' Postfix log (compose/proxy/front/postfix/main.cf)


def maillog_marks(topo) -> dict[str, int]:
    """Current size of every proxy's Postfix log: read outcomes from here on."""
    out = {}
    for p in proxies(topo):
        r = docker.exec_(topo.container(p), f"stat -c %s {MAILLOG} 2>/dev/null || echo 0", timeout=10)
        out[p] = int((r.out.strip() or "0").splitlines()[-1]) if r.ok else 0
    return out


def postfix_outcomes(topo, marks: dict[str, int]) -> dict:
    """LMTP delivery outcomes the proxies' Postfix logged since ``marks``: sent / deferred / bounced,
    and the reasons of bounces (a bounce is mail lost for its recipient)."""
    out = {"sent": 0, "deferred": 0, "bounced": 0, "bounce_reasons": [], "read": True}
    for p, offset in marks.items():
        r = docker.exec_(topo.container(p), f"tail -c +{offset + 1} {MAILLOG}", timeout=30)
        if not r.ok:
            out["read"] = False
            continue
        for line in r.out.splitlines():
            m = re.search(r"status=(sent|deferred|bounced)", line)
            if m and "/lmtp[" in line:
                out[m.group(1)] += 1
                if m.group(1) == "bounced" and len(out["bounce_reasons"]) < 3:
                    out["bounce_reasons"].append(line.split("status=bounced", 1)[1].strip()[:160])
    return out


# -- shared judgements ---------------------------------------------------------------------------
def protocols_work(cert: Certifier, sc, label: str) -> dict:
    """SMTP/POP/IMAP/Webmail rows from an end-to-end round trip through the client endpoints, for
    one user of every back end (each back end serves its own users)."""
    out = {}
    for be, users in groups(sc.topo).items():
        user = sorted(users)[0]
        tok = f"mh-{sc.tag}-e2e{re.sub('[^a-z0-9]', '', label)}{re.sub('[^a-z0-9]', '', be)}"
        res = e2e.roundtrip(sc.topo, cert.h, tok, user=user)
        out[be] = res
        for proto, claim in e2e.PROTO_CLAIM.items():
            r = res.get(proto)
            if r is None:
                cert.claim(claim, "unknown", reasons=[f"{proto} via {be}: not tried (SMTP failed)"])
                continue
            cert.claim(claim, verdict(r["ok"]), checks=["e2e"],
                       numbers={f"{proto}_roundtrip_{label}_{be}": num(r["seconds"], "s")},
                       reasons=[] if r["ok"] else [f"{proto} {label} for {user} (on {be}): {r['error']}"])
    return out


def no_loss(cert: Certifier, sc, claim: str = "smtp", label: str = "") -> dict:
    """Every acknowledged message reached its recipient's back end (one store per user: a message
    is lost when no back end has it), none twice."""
    m = cert.check("messages", sc, require="any")
    t = m.get("totals", {})
    lost = t.get("lost_everywhere")
    suffix = f"_{label}" if label else ""
    reasons = ([] if m["valid"] == "pass" else m.get("reasons") or [])
    cert.claim(claim, from_check(m), checks=["messages"], reasons=reasons, numbers={
        f"acked{suffix}": num(t.get("acked")), f"lost{suffix}": num(lost, "", 0),
        f"duplicated{suffix}": num(t.get("duplicated"), "", 0)})
    return m


def load_shares(cert: Certifier, sc, *, after: float | None = None, label: str = "") -> dict:
    """Shares of successful sessions per proxy (who greeted) and per back end (whose user it was),
    each held against fair × (1 ± band)."""
    band = cert.thresholds["load_share_band"]
    ops = [o for o in test_ops(cert, sc) if o.type == "ok" and (after is None or o.start >= after)]
    px = proxies(sc.topo)
    by_proxy = Counter(o.node for o in ops if o.node in px)
    owner = owner_of(sc.topo)
    by_backend = Counter(owner[u] for o in ops if (u := user_of(o)) in owner)
    out, nums, reasons = {}, {}, []
    for tier, counts, names in (("proxy", by_proxy, px), ("backend", by_backend, sorted(set(owner.values())))):
        total = sum(counts.values())
        fair = 1 / len(names) if names else None
        shares = {n: (counts.get(n, 0) / total if total else 0.0) for n in names}
        spread = total >= cert.min_ok and len(names) >= 2 and all(
            fair * (1 - band) <= s <= fair * (1 + band) for s in shares.values())
        out[tier] = {"total": total, "shares": shares, "spread": spread}
        for n, s in shares.items():
            nums[f"{tier}_share_{n}{label}"] = num(s)
        if fair:  # the band as one number: the largest relative distance from the fair share
            nums[f"{tier}_share_deviation_max{label}"] = num(max(abs(s - fair) / fair for s in shares.values()), "", band)
        if not spread:
            reasons.append(f"{tier}s: {total} sessions, shares " + ", ".join(f"{n} {s:.2f}" for n, s in shares.items())
                           + f" (fair {fair:.2f} ± {band:.0%})")
    value = "unknown" if min(out["proxy"]["total"], out["backend"]["total"]) < cert.min_ok else \
        ("Yes" if out["proxy"]["spread"] and out["backend"]["spread"] else
         "Some" if out["proxy"]["spread"] or out["backend"]["spread"] else "No")
    cert.claim("load_sharing", value, numbers=nums, reasons=reasons, checks=["load"])
    return out


# -- scenarios -----------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 8.0):
    """Steady mixed workload through the load balancers: every protocol works for the users of
    every back end, no mail is lost, and sessions spread over the proxies and the back ends."""
    with cert.scenario(drain_s=60) as sc:
        sc.steady(seconds)
    protocols_work(cert, sc, "steady")
    no_loss(cert, sc)
    load_shares(cert, sc)
    return cert.finish()


def routing(cert: Certifier, per_user: int = 2):
    """Mail for every user through the load balancers, then: where does each user live (direct
    logins on every back end), where did its mail land, what does LDAP say, and what do IMAP and
    POP through *each* proxy show. Each user must live on exactly one back end — the one the
    design places it on — and every proxy must show exactly that back end's mail."""
    with cert.scenario(workload=False, probes=False, sessions=False, drain_s=60) as sc:
        topo = sc.topo
        users = topo.users()
        owner = owner_of(topo)
        host, port = topo.endpoint("smtp")
        smtp = SmtpClient(cert.h, "route-smtp", topo.node_names, 10)
        acked: dict[str, set] = defaultdict(set)
        refused: dict[str, list] = defaultdict(list)
        for n, u in enumerate(sorted(users)):
            for i in range(per_user):
                tok = f"mh-{sc.tag}-r{n}n{i}"
                if smtp.send(host, port, tok, u) == "ok":
                    acked[u].add(tok)
                else:
                    refused[u].append(next(e.error for e in reversed(cert.h.snapshot()) if e.proc == "route-smtp"))
        sc.drain_queues()
        prefix = f"mh-{sc.tag}-"
        on_backend = _direct_reads(cert, topo, users, prefix)            # user -> {backend: tokens}
        via_proxy = _proxy_reads(cert, topo, users, prefix)              # user -> {(proxy, proto): tokens | None}
        directory = _directory(cert, topo)                               # user -> [mailHost]
    reasons_one, reasons_route = [], []
    for u in sorted(users):
        held = on_backend.get(u, {})
        if len(held) != 1:
            reasons_one.append(f"{u} can log in on {len(held)} back ends ({', '.join(sorted(held)) or 'none'})")
        with_mail = sorted(b for b, toks in held.items() if toks)
        if len(with_mail) > 1:
            reasons_one.append(f"{u} has mail on {', '.join(with_mail)}")
        hosts = directory.get(u, [])
        if len(hosts) > 1:
            reasons_one.append(f"{u} has {len(hosts)} directory entries (mailHost {', '.join(hosts)})")
        want = owner.get(u)
        names = [h for h in hosts if not _is_address(h)]
        if names:
            reasons_route.append(
                f"{u}: mailHost {', '.join(names)} is a host name, not an address — routing then needs the name "
                f"service at every delivery, and a stopped back end becomes 'host not found': bounced mail where "
                f"DNS answers NXDOMAIN (Docker's DNS forgets stopped containers), stalled lookups where it does not")
        named = {node_of_mailhost(topo, h) for h in hosts}
        if named != {want}:
            reasons_route.append(f"{u}: LDAP mailHost {', '.join(hosts) or 'missing'} names "
                                 f"{', '.join(sorted(str(x) for x in named)) or 'no node'}, the design places it on {want}")
        if refused.get(u):
            reasons_route.append(f"{u}: {len(refused[u])} of {per_user} messages refused ({refused[u][0]})")
        got = held.get(want, set())
        if acked[u] - got:
            elsewhere = sorted(b for b, toks in held.items() if toks & acked[u] and b != want)
            reasons_route.append(f"{u}: {len(acked[u] - got)} of {len(acked[u])} accepted messages not on {want}"
                                 + (f" (found on {', '.join(elsewhere)})" if elsewhere else ""))
        for (px, proto), toks in sorted(via_proxy.get(u, {}).items()):
            if toks is None:
                reasons_route.append(f"{u}: {proto.upper()} through {px} failed")
            elif toks != got:
                reasons_route.append(f"{u}: {proto.upper()} through {px} shows {len(toks)} messages, {want} holds {len(got)}")
    reads = sum(len(v) for v in via_proxy.values())
    cert.claim("one_backend_per_user", verdict(not reasons_one), reasons=reasons_one[:8], checks=["routing"], numbers={
        "users_checked": num(len(users)),
        "users_on_exactly_one_backend": num(sum(1 for u in users if len(on_backend.get(u, {})) == 1), "", len(users), ">=")})
    cert.claim("ldap_routing", verdict(not reasons_route), reasons=reasons_route[:8], checks=["routing"], numbers={
        "messages_routed": num(sum(len(a) for a in acked.values())),
        "reads_through_proxies": num(reads), "routing_mismatches": num(len(reasons_route), "", 0)})
    no_loss(cert, sc, "ldap_routing")
    return cert.finish()


def _is_address(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return False


def _direct_reads(cert, topo, users, prefix) -> dict[str, dict[str, set]]:
    """Where each user lives: the users each back end knows (its own userdb, asked inside it, so
    no failed logins: Dovecot's per-address auth penalty would slow every later login from here
    to 15 s), then a direct IMAP read there of the scenario's tokens (every mailbox)."""
    out: dict[str, dict[str, set]] = defaultdict(dict)
    for be in backends(topo):
        addr = topo.nodes[be].lan
        for u in sorted(held_users(topo, topo.container(be), users)):
            proc = f"route-direct-{be}"
            cert.h.invoke(proc, "read", {"user": u, "mailbox": "*", "node": be})
            try:
                with Imap(addr, 143, u, users[u], topo.node_names, 10) as c:
                    toks = {m["token"] for mb in c.mailboxes() for m in c.read(mb)["messages"]}
            except IMAP_ERRORS as e:
                cert.h.fail(proc, "read", {"user": u, "mailbox": "*"}, node=be, error=str(e)[:160])
                out[u][be] = set()  # it knows the user (a login failure is reported by the proxies' reads)
                continue
            toks = {t for t in toks if t and t.startswith(prefix)}
            cert.h.ok(proc, "read", {"user": u, "mailbox": "*", "tokens": sorted(toks)}, node=be)
            out[u][be] = toks
    return out


def held_users(topo, container: str, users) -> set[str]:
    """The users of ``users`` that a back end knows, asked inside its container with the design's
    ``user_exists`` command (default ``doveadm user {user}``: a userdb lookup, exit 0 if known)."""
    cmd = topo.meta.get("user_exists") or "doveadm user {user}"
    script = "; ".join(f"{cmd.format(user=u)} >/dev/null 2>&1 && echo 'HELD {u}'" for u in sorted(users))
    r = docker.exec_(container, script + "; true", timeout=60)
    return {line.split(" ", 1)[1] for line in r.out.splitlines() if line.startswith("HELD ")}


def _proxy_reads(cert, topo, users, prefix) -> dict[str, dict]:
    """IMAP and POP3 through each proxy's own address (not the load balancer): the tokens shown."""
    out: dict[str, dict] = defaultdict(dict)
    for px in proxies(topo):
        addr = topo.nodes[px].lan
        imap = ImapClient(cert.h, f"route-imap-{px}", topo.node_names, 10)
        pop = Pop3Client(cert.h, f"route-pop-{px}", topo.node_names, 10)
        for u, pw in sorted(users.items()):
            r = imap.read(addr, 143, u, pw)
            out[u][(px, "imap")] = None if r is None else {m["token"] for m in r["messages"] if (m["token"] or "").startswith(prefix)}
            toks = pop.read(addr, 110, u, pw)
            out[u][(px, "pop3")] = None if toks is None else {t for t in toks if t.startswith(prefix)}
    return out


def _directory(cert, topo) -> dict[str, list[str]]:
    """user -> the mailHost values LDAP holds for it (every entry with that address)."""
    cfg = topo.meta.get("ldap") or {}
    c = LdapClient(cert.h, "route-ldap", cfg["host"], int(cfg.get("port", 389)))
    rows = c.search(cfg["base"], "(objectClass=inetLocalMailRecipient)", attrs=("mail", "mailHost"),
                    dn=cfg.get("admin"), password=cfg.get("password")) or []
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        for m in r.get("mail") or []:
            out[m.lower()] += [str(h) for h in r.get("mailHost") or []]
    return out


def segmentation(cert: Certifier, connect_timeout: int = 2):
    """From a client machine on the client network (not the host, which reaches every bridge):
    the front ends answer, and no port of a back end or of LDAP opens — on any address those
    machines have, directly or with a route through a proxy."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        spec = topo.meta.get("client") or {}
        client = sc.cluster.container(spec["service"])
        closed_ports = topo.meta.get("closed_ports") or {}
        front = sorted({f"{ep['host']}:{ep['port']}" for ep in (topo.meta.get("endpoints") or {}).values()} |
                       {f"{topo.nodes[p].lan}:{port}" for p in proxies(topo) for port in (25, 110, 143, 80)})
        inner = {}  # "ip:port" -> node
        for name, n in topo.nodes.items():
            ports = closed_ports.get(n.meta.get("tier"))
            if not ports:
                continue
            for ip in _addresses(topo.container(name)):
                for port in ports:
                    inner[f"{ip}:{port}"] = name
        opened = _try_connect(cert, client, front, "front", connect_timeout)
        direct = _try_connect(cert, client, sorted(inner), "inner", connect_timeout)
        routed = {}
        own_net = _addresses(client)
        targets = sorted({t.split(":")[0] for t in inner} - set(own_net))
        for px in proxies(topo):  # even a client that routes the back-end addresses via a proxy
            gw = topo.nodes[px].lan
            routes = " && ".join(f"ip route replace {ip}/32 via {gw}" for ip in targets)
            if routes and docker.exec_(client, routes, timeout=15).ok:
                routed.update({f"{t} via {px}": v for t, v in _try_connect(
                    cert, client, sorted(inner), f"inner-via-{px}", connect_timeout).items()})
                docker.exec_(client, " ; ".join(f"ip route del {ip}/32" for ip in targets), timeout=15)
    front_closed = [t for t, ok in opened.items() if not ok]
    open_inner = [f"{t} ({inner[t]})" for t, ok in direct.items() if ok]
    open_routed = [t for t, ok in routed.items() if ok]
    reasons = [f"{inner_t} opens from the client network" for inner_t in open_inner]
    reasons += [f"{t} opens from the client network" for t in open_routed]
    if front_closed:
        reasons.append(f"the front ends do not answer the client ({', '.join(front_closed)}): nothing was proven")
    value = "unknown" if front_closed and not (open_inner or open_routed) else verdict(not reasons)
    cert.claim("three_layer_security", value, reasons=reasons[:8], checks=["segmentation"], numbers={
        "front_ports_open": num(len(opened) - len(front_closed), "", len(opened), ">="),
        "inner_ports_tried": num(len(direct) + len(routed)),
        "inner_ports_open": num(len(open_inner) + len(open_routed), "", 0)})
    return cert.finish()


def _addresses(container: str) -> list[str]:
    info = docker.inspect(container)
    nets = ((info[0].get("NetworkSettings") or {}).get("Networks") or {}) if info else {}
    return sorted(n["IPAddress"] for n in nets.values() if n.get("IPAddress"))


def _try_connect(cert, client: str, targets: list[str], layer: str, timeout: int) -> dict[str, bool]:
    """Open TCP connections from the client container, all at once: target -> opened?"""
    if not targets:
        return {}
    script = " ".join(
        f"( timeout {timeout} bash -c 'exec 3<>/dev/tcp/{t.split(':')[0]}/{t.split(':')[1]}' 2>/dev/null"
        f" && echo 'open {t}' || echo 'closed {t}' ) &" for t in targets) + " wait"
    cert.h.invoke("segment-client", "connect", {"layer": layer, "targets": targets})
    r = docker.exec_(client, ["bash", "-c", script], timeout=timeout * 3 + 20)
    res = {t: False for t in targets}
    for line in r.out.splitlines():
        state, _, t = line.partition(" ")
        if t in res:
            res[t] = state == "open"
    cert.h.ok("segment-client", "connect", {"layer": layer, "open": sorted(t for t, ok in res.items() if ok),
                                            "closed": sorted(t for t, ok in res.items() if not ok)})
    return res


def backend_failure(cert: Certifier, fault: str = "kill", target: str | None = None, hold: float = 8.0):
    """One back end dies (``kill``) or hangs (``pause``): its users — and only they — lose access,
    with a clean temporary error within the bound; everybody else sees no failed operation; mail
    for its users is accepted, deferred and delivered after it returns, none lost or doubled."""
    bound = cert.thresholds["backend_error_s"]
    with cert.scenario(probes=False, drain_s=60) as sc:
        topo = sc.topo
        target = target or backends(topo)[-1]
        marks = maillog_marks(topo)
        gp = GroupProbes(topo, cert.h, groups(topo), timeout=bound + 2).start()
        try:
            sc.steady(3)
            with sc.fault(fault, target) as fid:
                sc.wait(hold)
            sc.steady(5)
        finally:
            gp.stop()
    cert.faults_applied(sc)
    start, end = fault_window(cert, fid)
    victims = set(topo.users_of(target)) | {topo.nodes[target].meta.get("probe", {}).get("user")}
    ops = test_ops(cert, sc)
    others_failed = [o for o in ops if o.type != "ok" and (u := user_of(o)) and u not in victims]
    during = [o for o in ops if user_of(o) in victims and start <= o.start <= end]
    # logins that began and ended while it was down (one that outlives the heal may succeed)
    access = [o for o in during if proto_of(o) in ("imap", "pop3") and o.f in ("probe", "read", "pop-read")
              and o.end is not None and o.end <= end]
    refused = [o for o in during if o.type != "ok" and proto_of(o) in ("imap", "pop3", "http")]
    slowest = max((o.end - o.start for o in refused if o.end is not None and proto_of(o) != "http"), default=None)
    slowest_web = max((o.end - o.start for o in refused if o.end is not None and proto_of(o) == "http"), default=None)
    # a hang: no answer within the bound (a client that gave up earlier on its own proves nothing)
    hung = [o for o in refused if o.end is None or o.end - o.start > bound]
    unclean = [o for o in refused if o not in hung and proto_of(o) != "http" and not TEMPORARY.search(o.error or "")
               and not HANG.search(o.error or "")]
    served = sum(1 for o in access if o.type == "ok")
    sends = [o for o in during if o.f == "send"]
    sends_refused = [o for o in sends if o.type != "ok"]
    pf = postfix_outcomes(topo, marks)
    m = no_loss(cert, sc, "smtp", fault)
    reasons = []
    if others_failed:
        c = Counter(f"{o.f} for {user_of(o)}: {o.error}" for o in others_failed)
        reasons.append(f"{len(others_failed)} operations of users on other back ends failed: {c.most_common(2)}")
    if not refused:
        reasons.append(f"users of {target} were never refused while it was down: the fault was not seen")
    if hung:
        reasons.append(f"{len(hung)} attempts by users of {target} waited longer than {bound:.0f} s (a hang, not an error)")
    if unclean:
        reasons.append(f"{len(unclean)} refusals were not temporary errors: {unclean[0].error}")
    if sends_refused:
        reasons.append(f"{len(sends_refused)} messages for users of {target} were refused instead of queued: "
                       f"{sends_refused[0].error}")
    if pf["bounced"]:
        reasons.append(f"{pf['bounced']} deliveries bounced instead of waiting: {pf['bounce_reasons'][0]}")
    if m["valid"] != "pass":
        reasons.append(f"accepted mail lost or doubled: {m.get('reasons')}")
    cert.claim("backend_failure_disadvantage", verdict(not reasons), reasons=reasons, checks=["messages", "availability"],
               numbers={f"other_users_failed_ops_{fault}": num(len(others_failed), "", 0),
                        f"victim_refusals_{fault}": num(len(refused)),
                        f"victim_imap_pop_error_s_max_{fault}": num(slowest, "s", bound),
                        f"victim_webmail_error_s_max_{fault}": num(slowest_web, "s", bound),
                        f"victim_hangs_{fault}": num(len(hung), "", 0),
                        f"mail_for_victims_accepted_{fault}": num(len(sends) - len(sends_refused)),
                        f"deliveries_deferred_{fault}": num(pf["deferred"] if pf["read"] else None),
                        f"deliveries_bounced_{fault}": num(pf["bounced"], "", 0)})
    # processing redundancy: did any other server take over the dead back end's users?
    ratio = served / len(access) if access else None
    cert.claim("processing_redundancy", "unknown" if ratio is None else ("Yes" if ratio >= 0.99 else "Some" if ratio > 0 else "No"),
               checks=["availability"], numbers={
                   f"victims_served_during_{fault}": num(ratio, ""),
                   f"users_cut_off_{fault}": num(len(topo.users_of(target))),
                   f"users_unaffected_{fault}": num(len(set(topo.users()) - victims))},
               reasons=[] if ratio is None or ratio >= 0.99 else [
                   f"while {target} was down ({fault}), {served} of {len(access)} logins of its users succeeded: "
                   f"no other server serves them"])
    if sends_refused or pf["bounced"]:
        cert.claim("smtp", "No", reasons=["mail for users of a dead back end was refused or bounced"])
    protocols_work(cert, sc, f"after-{fault}")
    return cert.finish()


def backend_lost(cert: Certifier, target: str | None = None):
    """A back end and its disk are lost and it is rebuilt empty: whatever mail it held is gone
    (the seed's "data redundancy: No"). Measured: how much, and that no other user lost any."""
    with cert.scenario(probes=False, drain_s=60) as sc:
        topo = sc.topo
        target = target or backends(topo)[-1]
        sc.steady(4)
        loss_at = cert.h.now()
        with sc.fault("wipe", target):
            sc.wait(4)
        sc.steady(3)
    cert.faults_applied(sc)
    m = cert.check("messages", sc, require="any")
    victims = set(topo.users_of(target))
    sends = {(o.invoke.value or {}).get("token"): user_of(o) for o in test_ops(cert, sc, "send") if o.type == "ok"}
    lost = (m.get("lost_everywhere") or {}).get("tokens") or []
    count = (m.get("totals") or {}).get("lost_everywhere") or 0
    held_before = sum(1 for o in test_ops(cert, sc, "send") if o.type == "ok" and o.end is not None and o.end < loss_at
                      and user_of(o) in victims)
    lost_others = [t for t in lost if sends.get(t) not in victims]
    value = "unknown" if m["valid"] == "unknown" else ("Yes" if count == 0 else "No")
    cert.claim("data_redundancy", value, checks=["messages"], numbers={
        f"acked_before_loss_for_{target}": num(held_before),
        f"lost_with_{target}": num(count - len(lost_others)),
        "lost_for_other_users": num(len(lost_others), "", 0)},
        reasons=[] if count == 0 else [f"{count} acknowledged messages were only on {target} and went with its disk"])
    # the disclosed disadvantage, for a lost disk: only that back end's users lose anything
    cert.claim("backend_failure_disadvantage", "unknown" if m["valid"] == "unknown" else verdict(not lost_others),
               checks=["messages"], numbers={"other_users_mail_lost_with_disk": num(len(lost_others), "", 0)},
               reasons=[f"{len(lost_others)} messages of users on other back ends lost with {target}"] if lost_others else [])
    return cert.finish()


def proxy_failure(cert: Certifier, fault: str = "kill", target: str | None = None, hold: float = 6.0):
    """A front-end proxy dies: the load balancers stop sending sessions to it, clients reconnect
    through the other proxy within the failover bound, and no mail is lost."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario(drain_s=60) as sc:
        sessions_ = OpenSessions(sc.topo, cert.h).start()
        try:
            sc.steady(3)
            # the proxy that holds the most open sessions right now: its clients must move
            target = target or sessions_.busiest(proxies(sc.topo))
            with sc.fault(fault, target) as fid:
                sc.wait(hold)
            sc.steady(4)
        finally:
            sessions_.stop()
    cert.faults_applied(sc)
    start, end = fault_window(cert, fid)
    a = cert.check("availability", sc, bound_s=bound)
    nums, reasons = gaps(a, bound, f"{fault}_{target}", f"without service through the load balancers after {fault} of {target}")
    sessions = [o for o in test_ops(cert, sc, "session")]
    invoked = next(e.t for e in cert.h.snapshot() if e.proc == "nemesis" and e.test == cert.nodeid
                   and e.f == "fault" and e.type == "invoke" and (e.value or {}).get("id") == fid)
    # a kill breaks sessions before docker confirms it: count from the moment it was ordered
    broken = [o for o in sessions if o.type == "fail" and o.end is not None and o.end >= invoked]
    moves = []
    for o in broken:
        # the first session of that client that held after the break (retries may fail before it)
        nxt = next((s for s in sessions if s.proc == o.proc and s.start >= o.end and s.type == "ok"), None)
        if nxt is not None:
            moves.append((nxt.start - o.end, nxt.node))
    slowest_move = max((s for s, _ in moves), default=None)
    if any(n == target for _, n in moves):
        reasons.append(f"a session broken by the {fault} reconnected to {target} itself")
    if len(moves) < len(broken):
        reasons.append(f"{len(broken) - len(moves)} of {len(broken)} broken sessions did not come back")
    if slowest_move is not None and slowest_move > bound:
        reasons.append(f"a broken session came back only after {slowest_move:.1f} s")
    after = [o for o in test_ops(cert, sc) if o.type == "ok" and end is not None and start + bound <= o.start <= end]
    if any(o.node == target for o in after):
        reasons.append(f"{target} still served sessions {bound:.0f} s after it was {fault}ed")
    nums.update({f"sessions_broken_{fault}_{target}": num(len(broken)),
                 f"sessions_moved_{fault}_{target}": num(len(moves)),
                 f"session_move_s_max_{fault}_{target}": num(slowest_move, "s", bound)})
    value = "unknown" if a["valid"] == "unknown" else verdict(not reasons)
    # the front tier covers for a dead proxy (the design as a whole has no processing redundancy:
    # a back end has no stand-in, which test_backend_failure certifies as the sheet's "No")
    cert.claim("front_ends", value, numbers=nums, reasons=reasons, checks=["availability"])
    no_loss(cert, sc, "smtp", f"{fault}-{target}")
    protocols_work(cert, sc, f"after-{fault}-{target}")
    return cert.finish()


def ldap_outage(cert: Certifier, fault: str = "stop", hold: float = 10.0):
    """The directory goes away and comes back. Measured: what logins (IMAP/POP through the proxies)
    and deliveries (SMTP RCPT, queued mail) do while it is away — temporary errors only, no mail
    refused for good — and how long after LDAP answers again every proxy serves everybody."""
    bound = cert.thresholds["recovery_s"]
    with cert.scenario(probes=False, drain_s=60) as sc:
        topo = sc.topo
        ldap = next(n for n, node in topo.nodes.items() if node.meta.get("tier") == "directory")
        # every proxy, directly: a proxy whose Postfix still refuses must show up
        gps = [GroupProbes(topo, cert.h, {f"{px}": topo.users()}, period=0.5, workers=3,
                           timeout=cert.thresholds["backend_error_s"] + 2, target=topo.nodes[px].lan).start()
               for px in proxies(topo)]
        try:
            sc.steady(3)
            with sc.fault(fault, ldap) as fid:
                sc.wait(hold)
            healed = cert.h.now()
            sc.steady(6)
        finally:
            for g in gps:
                g.stop()
    cert.faults_applied(sc)
    start, end = fault_window(cert, fid)
    probes = [o for o in test_ops(cert, sc, "probe") if "@" in str((o.invoke.value or {}).get("proto"))]
    # attempts the outage overlapped: begun before LDAP came back, still waiting after it went
    during = [o for o in probes if o.start <= end and (o.end is None or o.end >= start + 0.5)]
    after = [o for o in probes if o.start >= healed]
    nums, reasons = {}, []
    permanent = [o for o in during if o.type != "ok" and PERMANENT.search(o.error or "")]
    if permanent:
        reasons.append(f"{len(permanent)} refusals during the outage were permanent (a client gives up): {permanent[0].error}")
    recovered = {}
    for proto in ("imap", "pop3", "smtp"):
        # refused (temporary), given up by the client (its timeout), held until LDAP came back, or
        # served without it
        d = [o for o in during if proto_of(o) == proto]
        nums[f"{proto}_attempts_during_ldap_outage"] = num(len(d))
        nums[f"{proto}_refused_during_ldap_outage"] = num(sum(1 for o in d if o.type != "ok" and not HANG.search(o.error or "")))
        nums[f"{proto}_client_gave_up_during_ldap_outage"] = num(sum(1 for o in d if o.type != "ok" and HANG.search(o.error or "")))
        nums[f"{proto}_held_until_ldap_returned"] = num(sum(1 for o in d if o.type == "ok" and o.end is not None and o.end > end))
        nums[f"{proto}_served_without_ldap"] = num(sum(1 for o in d if o.type == "ok" and o.end is not None and o.end <= end))
        nums[f"{proto}_wait_s_max_during_ldap_outage"] = num(max((o.end - o.start for o in d if o.end is not None), default=None), "s")
        # recovery: from LDAP answering again until the last failure of that protocol on any proxy
        a = [o for o in after if proto_of(o) == proto]
        last_fail = max((o.end for o in a if o.type != "ok" and o.end is not None), default=None)
        rec = (last_fail - healed) if last_fail is not None else 0.0
        if a and all(o.type != "ok" for o in a):
            rec = None
        recovered[proto] = rec
        nums[f"{proto}_recovery_s_after_ldap"] = num(rec, "s", bound)
        if not a:
            reasons.append(f"{proto}: no attempts after LDAP returned")
        elif rec is None or rec > bound:
            reasons.append(f"{proto} through the proxies not recovered within {bound:.0f} s after LDAP returned"
                           + (f" (last failure at +{rec:.1f} s)" if rec is not None else ""))
        elif a[-1].type != "ok":
            reasons.append(f"{proto} still failing at the end of the run")
    sessions = test_ops(cert, sc, "session")
    for proto in ("imap", "http"):
        ss = [o for o in sessions if proto_of(o) == proto]
        nums[f"{proto}_sessions_open_through_ldap_outage"] = num(
            sum(1 for o in ss if o.start < start and o.type == "ok" and o.end is not None and o.end > end))
        nums[f"{proto}_sessions_broken_during_ldap_outage"] = num(
            sum(1 for o in ss if o.type == "fail" and o.end is not None and start <= o.end <= end + 1))
    m = no_loss(cert, sc, "user_database", "ldap")
    if m["valid"] == "fail":
        reasons.append("accepted mail lost or doubled across the outage")
    cert.claim("user_database", "unknown" if not during else verdict(not reasons), numbers=nums, reasons=reasons,
               checks=["messages", "availability"])
    return cert.finish()


def scale_out(cert: Certifier, seconds: float = 6.0):
    """While the cluster serves the existing users: new users go into LDAP, a third back end for
    them and a third proxy are started, and the proxy is added to the running load balancers.
    The new users must work end to end (their mail only on the new back end), the new proxy must
    take its share of sessions, nobody else may see a failed operation, and nothing restarts."""
    spec = cert.cluster.meta.get("scale_out") or {}
    with cert.scenario(drain_s=60) as sc:
        topo = sc.topo
        before = _started(cert.cluster)
        sc.steady(3)
        t_begin = cert.h.now()
        steps = {}
        t = time.monotonic()
        add = spec["add_users"]
        r = docker.exec_(cert.cluster.container(add["service"]), add["cmd"], timeout=30)
        if not r.ok:
            raise AssertionError(f"scale_by_adding: adding the new users to LDAP failed: {(r.err or r.out).strip()[-200:]}")
        steps["ldap_add_s"] = time.monotonic() - t
        ready = spec.get("ready") or []
        be, px = spec["backend"], spec["proxy"]
        steps["backend_start_s"] = cert.cluster.start_service(
            be["service"], checks=[c for c in ready if c.get("service") == be["service"]])
        steps["proxy_start_s"] = cert.cluster.start_service(
            px["service"], checks=[c for c in ready if c.get("service") == px["service"]])
        t = time.monotonic()
        reg = spec["register_proxy"]
        for svc in reg["services"]:
            r = docker.exec_(cert.cluster.container(svc), reg["cmd"], timeout=30)
            if not r.ok:
                raise AssertionError(f"scale_by_adding: registering {px['name']} in {svc} failed: {(r.err or r.out).strip()[-200:]}")
        steps["proxy_in_service_s"] = _wait_serving(topo, px["name"], timeout=30) + (time.monotonic() - t)
        t_serving = cert.h.now()
        u = spec["users"]
        new_users = {f"{u['prefix']}{i}@{topo.domain}": u["password"].format(user=f"{u['prefix']}{i}")
                     for i in range(int(u["first"]), int(u["last"]) + 1)}
        # the new users' tokens have their own prefix: the final reads (be1, be2) do not hold them
        new_prefix = f"mh-{sc.tag}n-"
        _new_user_traffic(cert, topo, new_users, new_prefix, seconds)
        e2e_new = _new_user_roundtrip(cert, sc, sorted(new_users)[0], new_users, new_prefix)
        sc.drain_queues()
        acked_new = defaultdict(set)
        for o in test_ops(cert, sc, "send"):
            if o.type == "ok" and user_of(o) in new_users:
                acked_new[user_of(o)].add((o.invoke.value or {}).get("token"))
        placement = _placement(cert, topo, new_users, be["service"], acked_new)
    after = _started(cert.cluster)
    restarted = sorted(s for s, st in before.items() if after.get(s) != st)
    ops = test_ops(cert, sc)
    old_failed = [o for o in ops if o.type != "ok" and user_of(o) not in new_users and o.start >= t_begin]
    # A probe that timed out saw a stall, not a refusal: it is judged, like a failover, as a gap
    # against "no interruption" (1-2 s disk stalls of this host were measured, docs/benchmarks.md);
    # any other failure of an existing user is a disturbance.
    old_stalls = [o for o in old_failed if o.f == "probe" and o.type == "fail" and HANG.search(o.error or "")]
    old_errors = [o for o in old_failed if o not in old_stalls]
    bound = cert.thresholds["no_interruption_s"]
    a = cert.check("availability", sc, bound_s=bound)
    gap_nums, gap_reasons = gaps(a, bound, "scale", "of stalls for existing users while the cluster grew")
    new_ops = [o for o in ops if user_of(o) in new_users and o.start >= t_serving]
    new_failed = [o for o in new_ops if o.type != "ok"]
    served_after = [o for o in ops if o.type == "ok" and o.start >= t_serving and o.node]
    by_proxy = Counter(o.node for o in served_after if o.node in proxies(topo) + [px["name"]])
    n_px = len(proxies(topo)) + 1
    share = by_proxy.get(px["name"], 0) / sum(by_proxy.values()) if by_proxy else 0.0
    band = cert.thresholds["load_share_band"]
    lo, hi = (1 / n_px) * (1 - band), (1 / n_px) * (1 + band)
    reasons = []
    if old_errors:
        reasons.append(f"{len(old_errors)} operations of existing users failed while the cluster grew: "
                       f"{Counter(f'{o.f}: {o.error}' for o in old_errors).most_common(2)}")
    reasons += gap_reasons
    if new_failed or not new_ops:
        reasons.append(f"new users: {len(new_failed)} of {len(new_ops)} operations failed"
                       + (f" ({new_failed[0].f}: {new_failed[0].error})" if new_failed else ""))
    if not e2e_new["ok"]:
        reasons.append(f"new user's round trip: {e2e_new['error']}")
    reasons += placement["reasons"]
    if not lo <= share <= hi:
        reasons.append(f"{px['name']} took {share:.2f} of the sessions (fair {1 / n_px:.2f} ± {band:.0%})")
    if restarted:
        reasons.append(f"restarted while scaling out: {', '.join(restarted)}")
    cert.claim("scale_by_adding", verdict(not reasons), reasons=reasons, checks=["load", "messages", "availability"], numbers={
        **{k: num(v, "s") for k, v in steps.items()}, **gap_nums,
        "new_users": num(len(new_users)), "new_user_ops_ok": num(len(new_ops) - len(new_failed)),
        "new_user_ops_failed": num(len(new_failed), "", 0),
        "new_user_messages_missing": num(placement["missing"], "", 0),
        "existing_user_ops_failed": num(len(old_errors), "", 0),
        "existing_user_probes_stalled": num(len(old_stalls)),
        f"{px['name']}_share": num(share),
        f"{px['name']}_share_deviation": num(abs(share - 1 / n_px) * n_px, "", band),
        "services_restarted": num(len(restarted), "", 0)})
    no_loss(cert, sc, "scale_by_adding", "scale")
    cert.cluster.dirty = True  # grown on purpose: later tests get the reference size again
    return cert.finish()


def _new_user_traffic(cert, topo, users: dict[str, str], prefix: str, seconds: float) -> None:
    """New users at work through the client endpoints for ``seconds``: sending, reading with
    IMAP and POP3 (their own processes, beside the main workload's)."""
    import threading

    stop = threading.Event()
    names = sorted(users)

    def run(kind: str):
        i = 0
        smtp = SmtpClient(cert.h, f"new-{kind}", topo.node_names, 10)
        imap = ImapClient(cert.h, f"new-{kind}", topo.node_names, 10)
        pop = Pop3Client(cert.h, f"new-{kind}", topo.node_names, 10)
        while not stop.wait(0.3):
            u = names[i % len(names)]
            i += 1
            if kind == "smtp":
                smtp.send(*topo.endpoint("smtp"), f"{prefix}new{i}", u)
            elif kind == "imap":
                imap.read(*topo.endpoint("imap"), u, users[u])
            else:
                pop.read(*topo.endpoint("pop3"), u, users[u])

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in ("smtp", "imap", "pop3")]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=15)


def _started(cluster) -> dict[str, str]:
    """service -> container start time (a restart changes it)."""
    out = {}
    for svc, name in cluster.containers().items():
        r = docker.run(["inspect", "-f", "{{.State.StartedAt}}", name], check=False)
        out[svc] = r.out.strip()
    return out


def _wait_serving(topo, proxy: str, timeout: float) -> float:
    """Until a new IMAP connection through the client endpoint is greeted by ``proxy``."""
    t0 = time.monotonic()
    host, port = topo.endpoint("imap")
    names = topo.node_names + [proxy]
    while time.monotonic() - t0 < timeout:
        try:
            import imapclient
            c = imapclient.IMAPClient(host, port=port, ssl=False, timeout=2)
            greet = c.welcome.decode(errors="replace") if isinstance(c.welcome, bytes) else str(c.welcome)
            c.logout()
            if proxy in greet:
                return time.monotonic() - t0
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"scale_by_adding: {proxy} took no session through {host}:{port} within {timeout:.0f} s "
                         f"(names {names})")


def _new_user_roundtrip(cert, sc, user, users, prefix) -> dict:
    topo = sc.topo
    tok = f"{prefix}e2e"
    host, port = topo.endpoint("smtp")
    t0 = time.monotonic()
    if SmtpClient(cert.h, "scale-smtp", topo.node_names, 10).send(host, port, tok, user) != "ok":
        return {"ok": False, "error": "SMTP refused the new user's mail", "seconds": time.monotonic() - t0}
    imap = ImapClient(cert.h, "scale-imap", topo.node_names, 10)
    ih, ip = topo.endpoint("imap")
    while time.monotonic() - t0 < 15:
        r = imap.read(ih, ip, user, users[user])
        if r and any(m["token"] == tok for m in r["messages"]):
            return {"ok": True, "error": None, "seconds": time.monotonic() - t0}
        time.sleep(0.3)
    return {"ok": False, "error": "the new user's mail never showed in IMAP", "seconds": time.monotonic() - t0}


def _placement(cert, topo, users, new_backend: str, acked: dict[str, set]) -> dict:
    """New users known to the new back end only, and every message accepted for them there."""
    reasons = []
    known = {b: held_users(topo, topo.container(b), users) for b in backends(topo)}
    known[new_backend] = held_users(topo, cert.cluster.container(new_backend), users)
    addr = (topo.meta.get("scale_out") or {}).get("backend", {}).get("lan")
    missing = 0
    for u in sorted(users):
        where = sorted(b for b, us in known.items() if u in us)
        if where != [new_backend]:
            reasons.append(f"new user {u} is known to {', '.join(where) or 'no back end'}, not only {new_backend}")
            continue
        try:
            with Imap(addr, 143, u, users[u], topo.node_names, 10) as c:
                have = {m["token"] for mb in c.mailboxes() for m in c.read(mb)["messages"]}
        except IMAP_ERRORS as e:
            reasons.append(f"new user {u}: direct read on {new_backend} failed ({e})")
            continue
        missing += len(acked.get(u, set()) - have)
    if missing:
        reasons.append(f"{missing} accepted messages for new users are not on {new_backend}")
    return {"reasons": reasons, "missing": missing}
