"""Design II's certification scenarios, one per claim family. Each runs against whatever
functional split it is given — the reference cluster or a broken variant — and returns the
claims it measured; the shared judgements (harness/judgements.py) decide every claim the
designs have in common, the local ones (filtering, the queue drain, webmail against the store)
are marked as such.

The tests in this folder call them on the reference cluster and require every claim to hold
(or the disagreement with the sheet the design cannot avoid); test_variants.py calls them on
broken variants and requires the right claim to fail.
"""
from __future__ import annotations

import re
import time

from harness import docker
from harness.certification import Certifier, from_check, num, verdict
from harness.clients.imap import Imap
from harness.clients.webmail import WebmailClient, WebmailSession
from harness.history import ops as history_ops
from harness.judgements import (failover_gaps, load_by_tier, no_loss, node_loss, protocols_work, replicas_converged,
                                steady_window, test_events, test_ops)
from harness.scenario import QUEUE_COUNT
from harness.errors import WaitTimeout
from harness.wait import Not, until

from .filtering import KINDS, send_kind, verdicts

FILTER_PROC = "filter-test"


def filters(topo) -> list[str]:
    return [n for n in topo.node_names if topo.tier(n) == "filter"]


def store(topo) -> str:
    return topo.data_nodes()[0].name


# -- steady state -------------------------------------------------------------------------------
def basic(cert: Certifier, seconds: float = 10.0):
    """Steady mixed workload: every protocol works end to end, no acknowledged mail is lost, and
    the load spreads over both filters (SMTP by MX and through the balancers) and both webmail
    servers. The store is one node: it is not a tier that can share load."""
    with cert.scenario() as sc:
        sc.steady(seconds)
    steady_window(cert, sc, loss_claim="smtp")
    load_by_tier(cert, sc, only=("filter", "webmail"))
    return cert.finish()


def webmail_via_imap(cert: Certifier, count: int = 3, logins: int = 4):
    """What a webmail user sees is the store's mailbox: mail sent through each filter is listed by
    each webmail server (asked directly, not through the balancer), every message a webmail
    server lists is in the store's INBOX with the same UID, the message count is the store's, and
    a message opened in webmail shows its own text. Then ``logins`` users in a row log in and
    list their inbox through the balancers (the webmail endpoint): each must succeed — a
    Roundcube session lives on one server, so the balancers must keep a browser on it."""
    with cert.scenario(workload=False, probes=False, sessions=False) as sc:
        topo = sc.topo
        users = topo.users()
        user = sorted(users)[-1]
        pw = users[user]
        toks = []
        for i in range(count):
            for f in filters(topo):
                tok = f"mh-{sc.tag}-w{f[-1]}{i}"
                send_kind(cert.h, "webmail-smtp", topo.node_names, topo.nodes[f].lan, 25, tok, user, "clean",
                          filter=f, condition="up")
                toks.append(tok)
        reasons, nums = [], {}
        seen_store = _wait_store_has(topo, user, pw, toks, timeout=20)
        missing = sorted(set(toks) - set(seen_store))
        if missing:
            reasons.append(f"{len(missing)} of {len(toks)} messages not in the store's INBOX after 20 s")
        for n in [x for x in topo.node_names if topo.tier(x) == "webmail"]:
            t0 = time.monotonic()
            got = _webmail_view(cert, topo, n, user, pw, toks)
            nums[f"webmail_view_s_{n}"] = num(round(time.monotonic() - t0, 3), "s")
            if got.get("error"):
                reasons.append(f"{n}: {got['error']}")
                continue
            shown = got["uids"]
            not_in_store = sorted(set(shown) - set(seen_store.values()))
            absent = sorted(t for t in toks if t not in got["tokens"])
            nums[f"listed_{n}"] = num(len(shown))
            nums[f"store_inbox_{user.split('@')[0]}_{n}"] = num(got["store_count"])
            if absent:
                reasons.append(f"{n}: {len(absent)} messages in the store's INBOX not listed")
            if not_in_store:
                reasons.append(f"{n}: lists UIDs the store's INBOX does not have: {not_in_store[:5]}")
            if got["count"] is not None and got["count"] != got["store_count"]:
                reasons.append(f"{n}: shows {got['count']} messages, the store's INBOX has {got['store_count']}")
            if not got["opened"]:
                reasons.append(f"{n}: opening message UID {got['open_uid']} did not show its text")
        # through the endpoint, one login after another (nothing else running: the balancers see
        # only these requests)
        host, port = topo.endpoint("http")
        wc = WebmailClient(cert.h, "webmail-endpoint", topo.node_names, 10)
        lists = [wc.list(f"http://{host}:{port}", u, users[u]) for u in sorted(users)[:logins]]
        failed = sum(r is None for r in lists)
        web_reasons = [f"{failed} of {logins} webmail logins + inbox lists through {host}:{port} failed: "
                       f"{next(o.error for o in reversed(test_ops(cert, sc, 'webmail-list')) if o.type == 'fail')}"
                       ] if failed else []
    cert.claim("webmail_via_imap", verdict(not reasons), numbers=nums, reasons=reasons, checks=["webmail-view"])
    cert.claim("webmail", verdict(not web_reasons), reasons=web_reasons, checks=["webmail-list"],
               numbers={"webmail_endpoint_logins_failed": num(failed, "", 0)})
    no_loss(cert, sc, claim="smtp")
    return cert.finish()


def _wait_store_has(topo, user, pw, toks, timeout) -> dict[str, int]:
    """token -> UID in the store's INBOX once every token is there (or what is there at the end)."""
    st = topo.nodes[store(topo)].lan
    last: dict = {}

    def have():
        with Imap(st, 143, user, pw, topo.node_names, 10) as c:
            found = {m["token"]: m["uid"] for m in c.read("INBOX")["messages"] if m["token"]}
        last.clear()
        last.update(found)
        return all(t in found for t in toks) or Not(f"{sum(t in found for t in toks)} of {len(toks)} there")
    try:
        until(have, timeout=timeout, interval=0.5, what="the messages in the store's INBOX")
    except WaitTimeout:
        pass
    return dict(last)


def _webmail_view(cert, topo, node, user, pw, toks) -> dict:
    """One webmail server's view of the user's INBOX: login, list, open the newest test message."""
    base = f"http://{topo.nodes[node].lan}:80"
    try:
        WebmailClient(cert.h, f"webmail-view-{node}", topo.node_names, 10).list(base, user, pw)  # in the history
        ws = WebmailSession(base, 10, topo.node_names)
        ws.login(user, pw)
        listed = ws.list_inbox()
        r = ws.s.get(base + "/?_task=mail&_action=list&_mbox=INBOX&_remote=1&_page=1", timeout=10,
                     headers={"X-Roundcube-Request": ws.request_token or "", "X-Requested-With": "XMLHttpRequest"})
        m = re.search(r'"messagecount":(\d+)', r.json().get("exec", ""))
        count = int(m.group(1)) if m else None
        st = _wait_store_has(topo, user, pw, [], timeout=1)
        with Imap(topo.nodes[store(topo)].lan, 143, user, pw, topo.node_names, 10) as c:
            store_count = c.c.select_folder("INBOX", readonly=True)[b"EXISTS"]
        open_uid = st.get(toks[-1])
        page = ws.s.get(base + f"/?_task=mail&_action=show&_uid={open_uid}&_mbox=INBOX", timeout=10).text
        return {"uids": listed["uids"], "tokens": listed["tokens"], "count": count, "store_count": store_count,
                "open_uid": open_uid, "opened": toks[-1] in page and "test message" in page}
    except Exception as e:  # one sentence: the view could not be taken
        return {"error": f"{type(e).__name__}: {e}"[:200]}


# -- filtering ------------------------------------------------------------------------------------------
def _send_all(cert, sc, flt: str, condition: str, label: str, **extra) -> None:
    topo = sc.topo
    user = sorted(topo.users())[0]
    for kind in KINDS:
        send_kind(cert.h, FILTER_PROC, topo.node_names, topo.nodes[flt].lan, 25, f"mh-{sc.tag}-{label}{kind[0]}",
                  user, kind, filter=flt, condition=condition, **extra)


def filtering(cert: Certifier, hold: float = 1.0):
    """Under the steady workload, a clean, a GTUBE and an EICAR message to each filter: spam and
    virus refused with a permanent code and never in a mailbox, clean mail delivered. Then clamd
    dies on the first filter and rspamd on the second (then both on the first): every message to
    that filter, clean or not, must be deferred (4xx), never accepted unscanned. The time each
    answer took is recorded."""
    with cert.scenario() as sc:
        topo = sc.topo
        f1, f2 = filters(topo)[:2]
        sc.steady(2)
        for f in (f1, f2):
            _send_all(cert, sc, f, "up", f"u{f[-1]}")
        with sc.fault("daemon-kill", f1, daemon="clamd"), sc.fault("daemon-kill", f2, daemon="rspamd"):
            sc.wait(hold)
            _send_all(cert, sc, f1, "down", "c", scanner="clamd")
            _send_all(cert, sc, f2, "down", "r", scanner="rspamd")
        with sc.fault("daemon-kill", f1, daemon="scanners"):
            sc.wait(hold)
            _send_all(cert, sc, f1, "down", "b", scanner="both")
        sc.steady(2)
    cert.faults_applied(sc)
    m = no_loss(cert, sc, claim="smtp")
    filtering_verdict(cert, sc, m)
    return cert.finish()


def filtering_verdict(cert: Certifier, sc, m: dict) -> dict:
    """spam_virus_filtering from the filter-test sends (``filtering.verdicts``) and the final
    reads (``m``, the messages checker's result): a refused test message found in a mailbox
    (``failed_but_delivered``) fails it too."""
    ops = [o for o in history_ops(test_events(cert, sc), "send") if o.proc == FILTER_PROC]
    v = verdicts(ops)
    fbd = (m.get("totals") or {}).get("failed_but_delivered")
    nums = {"failed_but_delivered": num(fbd, "", 0)}
    for cell, d in sorted(v["cells"].items()):
        flt, cond, kind = cell.split("/")
        key = f"{kind}_verdict_s_{flt}" if cond == "up" else f"{kind}_answer_s_{cond}_{flt}"
        nums[key] = num(d["max_s"], "s")
    reasons = list(v["reasons"])
    value = from_check(v)
    if fbd:
        value, reasons = "No", reasons + [f"{fbd} refused test messages were delivered anyway"]
    elif m["valid"] == "unknown" and value == "Yes":
        value, reasons = "unknown", reasons + (m.get("reasons") or [])
    cert.claim("spam_virus_filtering", value, numbers=nums, reasons=reasons, checks=["filtering", "messages"])
    return v


# -- the store down ---------------------------------------------------------------------------------
def store_down(cert: Certifier, fault: str = "stop", hold: float = 6.0):
    """The mail store stops (``stop``/``kill``/``pause``) under the steady workload: both filters
    keep answering 250 for clean mail (their queues hold it), and once the store is back every
    accepted message is delivered, none lost or bounced; the time the filters' queues take to
    drain after the store returns is measured. (IMAP, POP3 and webmail, which only the store can
    serve, are down meanwhile: that is judged by ``node_fails(cert, "store")``.)"""
    with cert.scenario() as sc:
        topo = sc.topo
        st = store(topo)
        sc.steady(2)
        with sc.fault(fault, st) as fid:
            sc.wait(hold)
        drain = _queues_drained(sc, filters(topo), timeout=60)
        sc.steady(1)
    cert.faults_applied(sc)
    label = f"{fault}_store"
    window = _fault_window(cert, sc, fid)
    accepted = _accepted_while(cert, sc, window, filters(sc.topo))
    bounced = _bounces(sc, filters(sc.topo), since=sc.start_t)
    reasons = [f"{f}: {d['fail']} of {d['ok'] + d['fail']} sends refused while the store was down "
               f"({d['error']})" for f, d in accepted.items() if d["fail"]]
    reasons += [f"{f}: no send tried while the store was down" for f, d in accepted.items() if not d["ok"] + d["fail"]]
    if bounced:
        reasons.append(f"{sum(bounced.values())} messages returned to the sender by the filters: {bounced}")
    if drain["seconds"] is None:
        reasons.append(f"the filters' queues did not drain within 60 s of the store's return: {drain['left']}")
    nums = {f"accepted_while_store_down_{f}": num(d["ok"]) for f, d in accepted.items()}
    nums |= {f"refused_while_store_down_{f}": num(d["fail"], "", 0) for f, d in accepted.items()}
    nums[f"bounced_{label}"] = num(sum(bounced.values()), "", 0)
    nums[f"queue_drain_s_after_store_ready_{label}"] = num(drain["seconds"], "s")
    nums[f"queued_at_return_{label}"] = num(drain["queued_at_start"])
    cert.claim("filters_accept_when_store_down", verdict(not reasons), numbers=nums, reasons=reasons,
               checks=["filtering", "queue"])
    no_loss(cert, sc, claim="filters_accept_when_store_down", label=label)
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


def _fault_window(cert, sc, fid) -> tuple[float, float]:
    """(applied, heal invoked) of fault ``fid``: while the target was confirmed down."""
    from harness.history import is_nemesis, iter_fault_windows

    evs = [e for e in test_events(cert, sc) if is_nemesis(e.proc)]
    heal = next((e.t for e in evs if e.type == "invoke" and e.f == "heal" and (e.value or {}).get("id") == fid), None)
    w = next(w for w in iter_fault_windows(evs) if w["id"] == fid)
    return w["start"], heal if heal is not None else w["end"]


def _accepted_while(cert, sc, window, flts) -> dict[str, dict]:
    """Per filter: workload sends invoked while the store was down, accepted (ok) or refused."""
    lo, hi = window
    out = {f: {"ok": 0, "fail": 0, "error": None} for f in flts}
    for o in test_ops(cert, sc, "send"):
        if not (lo <= o.start <= hi) or not o.proc.startswith("smtp-"):
            continue
        via = (o.invoke.value or {}).get("via", "")
        f = next((x for x in flts if via.startswith(f"{sc.topo.nodes[x].lan}:")), None)
        if f is None or o.type == "info":
            continue
        out[f]["ok" if o.type == "ok" else "fail"] += 1
        if o.type == "fail" and not out[f]["error"]:
            out[f]["error"] = o.error
    return out


def _queues_drained(sc, nodes, timeout: float) -> dict:
    """Seconds until the Postfix queues of ``nodes`` are empty, polled every 0.5 s from now (the
    store's return): {"seconds", "queued_at_start", "left"}; seconds None if not within timeout."""
    t0 = time.monotonic()
    first: dict = {}

    def counts():
        out = {}
        for n in nodes:
            r = docker.exec_(sc.topo.container(n), QUEUE_COUNT, timeout=10)
            out[n] = int(r.out.strip() or 0) if r.ok else f"unreadable: {(r.err or r.out).strip()[-60:]}"
        first.setdefault("v", out)
        return out

    last = {}

    def empty():
        last["v"] = c = counts()
        return all(v == 0 for v in c.values()) or Not(f"queued {c}")
    try:
        until(empty, timeout=timeout, interval=0.5, what="the filters' queues to drain")
    except WaitTimeout:
        return {"seconds": None, "queued_at_start": sum(v for v in first.get("v", {}).values() if isinstance(v, int)),
                "left": last.get("v")}
    return {"seconds": round(time.monotonic() - t0, 2),
            "queued_at_start": sum(v for v in first.get("v", {}).values() if isinstance(v, int)), "left": {}}


def _bounces(sc, nodes, since: float) -> dict[str, int]:
    """Per node: mail for the domain that Postfix returned to its sender since the scenario began
    (container logs: ``status=bounced``, or ``status=expired`` when its queue lifetime ran out,
    for a recipient in the domain; the notices to the sender are not counted)."""
    secs = int(sc.h.now() - since) + 5
    out = {}
    for n in nodes:
        text = docker.logs(sc.topo.container(n), since_s=secs, timeout=20)
        dom = re.escape(sc.topo.domain)
        k = len(re.findall(rf"to=<[^>]*@{dom}>.*status=(?:bounced|expired)", text))
        if k:
            out[n] = k
    return out


# -- processing redundancy ---------------------------------------------------------------------------------
def node_fails(cert: Certifier, node: str, fault: str = "kill", hold: float = 6.0):
    """One server fails: every service must stay reachable through the endpoints within the
    'stops responding' bound — for a server of a doubled tier (a filter, a webmail server, a
    balancer) through its twin (SMTP through the other filter, webmail through the other server
    or balancer); no acknowledged mail is lost. Webmail sessions the failed server held must log
    in again: counted. For the one store the same measurement shows what its loss takes down."""
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario() as sc:
        sc.steady(3)
        with sc.fault(fault, node):
            sc.wait(hold)
        sc.steady(4)
    cert.faults_applied(sc)
    label = f"{fault}_{node}"
    a = failover_gaps(cert, sc, bound, "processing_redundancy", label)
    no_loss(cert, sc, claim="smtp", label=label)
    node_loss(cert, sc, node, fault, a, bound, claims=("processing_redundancy",))
    # counted, not judged: sessions a failed webmail server or balancer held must log in again
    s = cert.check("sessions", sc, max_broken_ratio=1.0)
    cert.claim("processing_redundancy", cert.outcome.measured("processing_redundancy"), numbers={
        f"sessions_open_at_{label}": num(s.get("open")), f"sessions_broken_{label}": num(s.get("broken"))})
    protocols_work(cert, sc, f"after-{label}")
    return cert.finish()


# -- data redundancy ----------------------------------------------------------------------------------------
def store_lost(cert: Certifier, hold: float = 4.0):
    """The store and its disk are lost (``wipe``) and it is rebuilt empty: the acknowledged mail it
    held is gone — the sheet's 'data redundancy: No' measured. Mail the filters accepted while it
    was away still arrives (their queues), which the loss count includes as delivered."""
    with cert.scenario() as sc:
        sc.steady(4)
        with sc.fault("wipe", store(sc.topo)):
            sc.wait(hold)
        sc.steady(3)
    cert.faults_applied(sc)
    no_loss(cert, sc, label="wipe_store")
    return cert.finish()


# -- combined with mirroring ------------------------------------------------------------------------------
def store_lost_with_mirror(cert: Certifier, hold: float = 6.0):
    """The store is design I's mirrored pair: the primary (holding the store's VIP) and its disk
    are lost under the workload. The other store node takes the VIP within the 'stops
    responding' bound, no acknowledged mail is lost beyond the recovery point (``rpo_s``: mail
    acknowledged just before the loss may not have been replicated yet), and the rebuilt node is
    refilled from its peer: the single point of failure, and the data loss with it, removed."""
    rpo = cert.thresholds["rpo_s"]
    bound = cert.thresholds["stops_responding_s"]
    with cert.scenario() as sc:
        sc.steady(4)
        with sc.fault("wipe", store(sc.topo)) as fid:
            sc.wait(hold)
        sc.steady(6)
    cert.faults_applied(sc)
    m = no_loss(cert, sc, claim="combine_with_mirror", label="wipe_store_mirrored", loss_fault=fid, rpo_s=rpo)
    cert.claim("combine_with_mirror", from_check(m), numbers={
        "exposed_within_rpo": num((m.get("exposed") or {}).get("count", 0)), "rpo_s": num(rpo, "s")})
    # every service through the endpoints came back within the bound. (LOCAL ADAPTATION: not
    # node_loss, whose VIP check reads the VIP observer, which is blind while a wiped node has no
    # container — 7.2 s counted as "no holder" while store2 held the VIP from 0.7 s)
    failover_gaps(cert, sc, bound, "combine_with_mirror", "wipe_store_mirrored")
    replicas_converged(cert, sc, "combine_with_mirror", after="wipe-store-mirrored")
    protocols_work(cert, sc, "after-wipe-store-mirrored")
    return cert.finish()
