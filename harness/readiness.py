"""Readiness means a real protocol answer, never just an open port.

(Docker's userland proxy accepts TCP before the daemon listens, and a stopping Dovecot
still accepts connections: an open port proves nothing.)
"""
from __future__ import annotations

import math
import os
import socket
import struct
import time

from . import docker
from .wait import until


def _read_line(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionError(f"connection closed after {buf[:60]!r}")
        buf += chunk
        if len(buf) > 8192:
            break
    return buf


def _expected(proto: str, greet: bytes, expect: str | None) -> None:
    """``expect``: text the greeting must hold — on a virtual IP, the name of the node that
    should hold it once the cluster has settled (a VIP can still move after it first answers)."""
    if expect and expect.encode() not in greet:
        raise ConnectionError(f"{proto} greeting lacks {expect!r}: {greet[:80]!r}")


def smtp(host: str, port: int = 25, timeout: float = 3.0, expect: str | None = None) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        greet = _read_line(s, timeout)
        if not greet.startswith(b"220"):
            raise ConnectionError(f"SMTP greeting was {greet[:80]!r}")
        _expected("SMTP", greet, expect)
        s.sendall(b"QUIT\r\n")
        return greet.decode(errors="replace").strip()


def imap(host: str, port: int = 143, timeout: float = 3.0, user: str | None = None, password: str | None = None,
         expect: str | None = None) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        greet = _read_line(s, timeout)
        if not greet.startswith(b"* OK"):
            raise ConnectionError(f"IMAP greeting was {greet[:80]!r}")
        _expected("IMAP", greet, expect)
        if user:
            s.sendall(f'a LOGIN "{user}" "{password}"\r\n'.encode())
            while True:
                line = _read_line(s, timeout)
                if line.startswith(b"a "):
                    if not line.startswith(b"a OK"):
                        raise ConnectionError(f"IMAP LOGIN answered {line[:80]!r}")
                    break
        s.sendall(b"z LOGOUT\r\n")
        return greet.decode(errors="replace").strip()


def pop3(host: str, port: int = 110, timeout: float = 3.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        greet = _read_line(s, timeout)
        if not greet.startswith(b"+OK"):
            raise ConnectionError(f"POP3 greeting was {greet[:80]!r}")
        s.sendall(b"QUIT\r\n")
        return greet.decode(errors="replace").strip()


def http(host: str, port: int = 80, path: str = "/", expect: str | None = None, timeout: float = 3.0) -> str:
    import requests

    r = requests.get(f"http://{host}:{port}{path}", timeout=timeout, allow_redirects=False)
    if r.status_code >= 500:
        raise ConnectionError(f"HTTP {r.status_code} from {path}")
    if expect and expect not in r.text:
        raise ConnectionError(f"HTTP {r.status_code} page without {expect!r}")
    return f"HTTP {r.status_code}"


def ldap(host: str, port: int = 389, timeout: float = 3.0, bind_dn: str | None = None,
         password: str | None = None, base: str | None = None) -> str:
    import ldap3

    server = ldap3.Server(host, port=port, connect_timeout=timeout, get_info=ldap3.NONE)
    # ldap3 packs receive_timeout into SO_RCVTIMEO as integers: a float raises once connected
    conn = ldap3.Connection(server, user=bind_dn, password=password, receive_timeout=max(1, math.ceil(timeout)))
    if not conn.bind():
        raise ConnectionError(f"LDAP bind failed: {conn.result.get('description')}")
    if base:
        conn.search(base, "(objectClass=*)", search_scope=ldap3.BASE)
        if conn.result.get("result") != 0:
            raise ConnectionError(f"LDAP search of {base} failed: {conn.result.get('description')}")
    conn.unbind()
    return "LDAP bind ok"


#: ONC RPC program of glusterd's "dump" service (GLUSTER_DUMP_PROGRAM, version 1): every
#: glusterd answers a NULL call to it on 24007; NFS servers answer program 100003
GLUSTER_DUMP = (123451501, 1)


def rpc(host: str, port: int = 24007, timeout: float = 3.0, program: int = GLUSTER_DUMP[0],
        version: int = GLUSTER_DUMP[1]) -> str:
    """An ONC RPC (RFC 5531) NULL call over TCP: any reply to it — accepted, or refused for its
    program or credentials — proves the server process answers; a frozen one never replies (its
    kernel still completes the TCP handshake, so an open port proves nothing)."""
    xid = int.from_bytes(os.urandom(4), "big")
    body = struct.pack(">10I", xid, 0, 2, int(program), int(version), 0, 0, 0, 0, 0)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">I", 0x80000000 | len(body)) + body)
        head = b""
        while len(head) < 12:
            chunk = s.recv(12 - len(head))
            if not chunk:
                raise ConnectionError(f"RPC server closed the connection after {len(head)} bytes")
            head += chunk
    _mark, rxid, mtype = struct.unpack(">3I", head)
    if rxid != xid or mtype != 1:
        raise ConnectionError(f"RPC answer is not a reply to our call (xid {rxid:#x}, type {mtype})")
    return f"RPC reply from program {program} v{version}"


def webmail(host: str, port: int = 80, timeout: float = 3.0, user: str | None = None,
            password: str | None = None) -> str:
    """A webmail journey, not a page: log in to Roundcube as ``user`` and list the inbox (its
    IMAP server behind it answered, and the code of the login and list pages has run once: a
    webmail node's first lists after its start took over 2 s under load while PHP compiled them)."""
    from .clients.webmail import WebmailSession

    w = WebmailSession(f"http://{host}:{port}", timeout=max(timeout, 10.0))
    w.login(user or "", password or "")
    listed = w.list_inbox()
    return f"webmail login and inbox list ok ({len((listed or {}).get('uids') or [])} messages)"


def toxiproxy(host: str, port: int = 8474, timeout: float = 3.0) -> str:
    import requests

    r = requests.get(f"http://{host}:{port}/version", timeout=timeout)
    r.raise_for_status()
    return f"toxiproxy {r.text.strip()[:40]}"


def exec_check(container: str, cmd: str, timeout: float = 10.0) -> str:
    r = docker.exec_(container, cmd, timeout=timeout)
    if not r.ok:
        raise ConnectionError(f"'{cmd}' exited {r.rc}: {(r.err or r.out).strip()[-120:]}")
    return (r.out.strip().splitlines() or ["ok"])[-1][:80]


CHECKS = {"smtp": smtp, "imap": imap, "pop3": pop3, "http": http, "ldap": ldap, "rpc": rpc, "toxiproxy": toxiproxy,
          "webmail": webmail}


def check(spec: dict, container: str | None = None, timeout: float = 3.0) -> str:
    """Run one readiness check described by an ``x-mailha.ready`` entry (or a node's ``serves``,
    see harness.topology); raise on failure."""
    proto = spec["proto"]
    if proto == "exec":
        return exec_check(container, spec["cmd"], timeout=max(timeout, 10))
    fn = CHECKS.get(proto)
    if fn is None:
        raise ValueError(f"unknown readiness check {proto!r}; known: exec, {', '.join(CHECKS)}")
    kw = {k: v for k, v in spec.items() if k not in ("proto", "service", "host", "port")}
    return fn(spec["host"], int(spec.get("port") or default_port(proto)), timeout=timeout, **kw)


def default_port(proto: str) -> int:
    return {"smtp": 25, "imap": 143, "pop3": 110, "http": 80, "webmail": 80, "ldap": 389, "rpc": 24007,
            "toxiproxy": 8474}[proto]


def describe(spec: dict) -> str:
    """``be1 imap`` / ``10.241.0.200:143 imap``: a check in a few words."""
    who = spec.get("service") or f"{spec.get('host')}:{spec.get('port') or default_port(spec['proto'])}"
    return f"{who} {spec['proto']}"


def wait(spec: dict, container: str | None, deadline: float, on_wait=None) -> str:
    """Retry ``check`` until it passes or ``deadline`` (monotonic) passes; return the answer.

    Any failure is "not ready yet" until the deadline; then ``WaitTimeout`` (a TimeoutError)
    names the check and its last error. With ``container`` (the checked service's), a container
    that exited meanwhile ends the wait at once (``ContainerGone``)."""
    return until(lambda: check(spec, container), timeout=max(0.0, deadline - time.monotonic()), interval=0.25,
                 what=f"{describe(spec)} to answer", container=container, on_retry=on_wait)


# -- why a check never answered: one sentence ---------------------------------------------------
PROTO_NAMES = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3", "http": "HTTP", "webmail": "a webmail login", "ldap": "LDAP",
               "rpc": "RPC",
               "toxiproxy": "the Toxiproxy API"}
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def subject(spec: dict, vips: list[str] = ()) -> str:
    """Who should have answered, in words: ``mirror-b``, ``the second virtual IP 10.231.0.201``,
    ``10.9.0.5:25``."""
    if spec.get("service"):
        return spec["service"]
    host = spec.get("host")
    if host in vips:
        i = list(vips).index(host)
        nth = f"{ORDINALS[i]} " if len(vips) > 1 and i < len(ORDINALS) else ""
        return f"the {nth}virtual IP {host}"
    return f"{host}:{spec.get('port') or default_port(spec['proto'])}"


def check_words(spec: dict) -> str:
    """The check in words: ``answered IMAP on 10.231.0.12:143``, ``passed its check
    mirror-b-replicated (`test -d …`)``."""
    if spec["proto"] == "exec":
        cmd = " ".join(str(spec.get("cmd", "")).split())
        cmd = cmd if len(cmd) <= 70 else cmd[:69] + "…"
        named = f" {spec['name']}" if spec.get("name") else ""
        return f"passed its check{named} (`{cmd}`)"
    where = f" on {spec['host']}:{spec.get('port') or default_port(spec['proto'])}" if spec.get("service") else ""
    return f"answered {PROTO_NAMES.get(spec['proto'], spec['proto'])}{where}"


def keepalived_facts(text: str) -> dict:
    """From a node's ``ip -o -4 addr show`` output followed by its keepalived configuration and,
    optionally, log lines: ``{"addrs": {ip}, "instances": {name: [vip]}, "states": {name: STATE}}``.
    A state line is keepalived's ``(NAME) Entering MASTER STATE`` (the last one per instance
    wins) or the lb image's ``/run/lb/vrrp-state`` content given as ``vrrp-state: STATE``."""
    import re

    addrs = {m.group(1) for m in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", text)}
    instances: dict[str, list[str]] = {}
    for m in re.finditer(r"vrrp_instance\s+(\S+)\s*\{(.*?)\n\}", text, re.S):
        block = re.search(r"virtual_ipaddress\s*\{([^}]*)\}", m.group(2))
        instances[m.group(1)] = re.findall(r"(\d+\.\d+\.\d+\.\d+)", block.group(1)) if block else []
    states: dict[str, str] = {}
    for m in re.finditer(r"\((\S+?)\) Entering (\w+) STATE", text):
        states[m.group(1)] = m.group(2)
    if m := re.search(r"^vrrp-state: (\S+)", text, re.M):
        for name in instances or {"*": []}:
            states.setdefault(name, m.group(1))
    return {"addrs": addrs, "instances": instances, "states": states}


def vip_diagnosis(vip: str, nodes: dict[str, dict | None]) -> str:
    """Why nobody answers on ``vip``, from each node's ``keepalived_facts`` (``None``: the node
    could not be asked — not running, or exec failed). One clause, e.g. ``keepalived on mirror-b
    reports MASTER without the address``."""
    holders = sorted(n for n, f in nodes.items() if f and vip in f["addrs"])
    def state(f):
        if not f:
            return None
        names = [n for n, ips in f["instances"].items() if vip in ips] or (["*"] if "*" in f["states"] else [])
        got = [f["states"][n] for n in names if n in f["states"]]
        return got[-1] if got else None
    states = {n: state(f) for n, f in nodes.items()}
    masters_without = sorted(n for n, s in states.items() if s and s.startswith("MASTER") and n not in holders)
    if masters_without:
        who = " and ".join(masters_without)
        return f"keepalived on {who} reports MASTER without the address"
    if holders:
        return f"{' and '.join(holders)} {'holds' if len(holders) == 1 else 'hold'} the address but no answer came from it"
    known = {n: s for n, s in states.items() if s}
    if not known:
        asked = sorted(n for n, f in nodes.items() if f)
        gone = sorted(n for n, f in nodes.items() if not f)
        bits = []
        if asked:
            bits.append(f"no node holds the address and keepalived's state is unknown on {', '.join(asked)}")
        if gone:
            bits.append(f"{', '.join(gone)} could not be asked")
        return "; ".join(bits) or "no node could be asked"
    return "no node holds the address; keepalived reports " + ", ".join(f"{s} on {n}" for n, s in sorted(known.items()))


def never_answered(spec: dict, seconds: float, last: str, *, vips: list[str] = (), diagnosis: str = "") -> str:
    """The one sentence for a readiness check that never passed: who, which check, for how long,
    the last error and — when known — why (``vip_diagnosis``, or the container's state and last
    log line)."""
    text = f"{subject(spec, vips)} never {check_words(spec)} within {seconds:.0f} s (last: {last.rstrip('.')})"
    return f"{text}: {diagnosis.rstrip('.')}." if diagnosis else f"{text}."


def container_diagnosis(state: str, exit_code=None, last_line: str = "") -> str:
    """``its container is running and its last log line is '…'`` (state as the engine reports it)."""
    st = f"{state} (exit code {exit_code})" if state == "exited" and exit_code is not None else state
    line = " ".join(last_line.split())
    line = line if len(line) <= 160 else line[:159] + "…"
    return f"its container is {st}" + (f" and its last log line is {line!r}" if line else " and it logged nothing")
