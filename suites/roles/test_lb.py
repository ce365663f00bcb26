"""Smoke test of the lb role image (HAProxy 2.6 + keepalived 2.2, VRRP only).

Alone: the health frontend, the default config, TCP balancing through HAProxy, a live
reload and a server added over the runtime API. With keepalived: the VIP on the right
interface, the probe -> track_file -> FAULT chain, a two-LB failover, and the loud refusal
when NET_ADMIN is missing (keepalived would otherwise claim MASTER without the VIP).
"""
from __future__ import annotations

import random
import socket
import textwrap
import time
from contextlib import contextmanager

import pytest
import requests

from harness.containers import Run, RoleContainer, role_container
from harness.errors import HostError

ADMIN_SOCK = "/run/haproxy/admin.sock"


def get(host: str, port: int = 8404, path: str = "/healthz", timeout: float = 2.0) -> requests.Response:
    return requests.get(f"http://{host}:{port}{path}", timeout=timeout)


def wait_for(what: str, fn, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``fn`` until it returns a truthy value; fail saying what never happened."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Exception as e:  # not yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def healthy(host: str, port: int = 8404) -> bool:
    r = get(host, port, timeout=0.5)
    return r.status_code == 200 and r.text == "ok\n"


def runtime_api(c: RoleContainer, cmd: str) -> str:
    r = c.exec(f"echo '{cmd}' | socat -t 2 stdio unix-connect:{ADMIN_SOCK}")
    assert r.ok, f"runtime API '{cmd}' failed: {r.err}"
    return r.out



def load() -> str:
    return open("/proc/loadavg").read().split()[0]


# -- alone -------------------------------------------------------------------------------------
def test_default_config_health_and_stats():
    with role_container("lb", timeout=20) as c:  # ready: HAProxy's /healthz on :8404 answers "ok"
        r = get(c.ip)
        assert (r.status_code, r.text) == (200, "ok\n"), f"/healthz answered {r.status_code} {r.text!r}"
        r = get(c.ip, path="/stats")
        assert r.status_code == 200 and "Statistics Report" in r.text, f"/stats answered {r.status_code} {r.text[:200]!r}"
        chk = c.exec("haproxy -c -f /etc/haproxy/haproxy.cfg")
        assert chk.ok and "Configuration file is valid" in chk.out + chk.err, f"haproxy -c: rc {chk.rc} {chk.out}{chk.err}"
        ps = c.exec("ps -eo args")
        assert "haproxy -W" in ps.out, f"HAProxy is not in master-worker mode:\n{ps.out}"
        assert "keepalived" not in ps.out, f"keepalived runs although neither VRRP_VIP nor /conf/keepalived.conf is set:\n{ps.out}"
        c.kill("HUP")  # SIGHUP to PID 1 = lb-reload
        wait_for("reload 1 in the master's show proc after SIGHUP", lambda: " master          1 [failed: 0]" in c.exec(
            "echo 'show proc' | socat stdio unix-connect:/run/haproxy/master.sock").out)
        assert healthy(c.ip), "HAProxy stopped answering after SIGHUP"
        t0 = time.monotonic()
        c.docker_stop()
        stopped = time.monotonic() - t0
        code = c.state()["ExitCode"]
        assert stopped < 5 and code == 0, f"docker stop took {stopped:.1f} s, exit code {code}; expected a clean TERM stop"
        assert "TERM: stopping" in c.logs()


def test_dead_haproxy_worker_ends_the_container():
    """A crashed worker must not leave a half-alive LB (keepalived would keep the VIP)."""
    with role_container("lb", timeout=20) as c:  # ready: /healthz answers
        r = c.exec("kill -9 $(pgrep -P $(cat /run/haproxy/haproxy.pid))")
        assert r.ok, f"could not kill the worker: {r.err}"
        wait_for("the container to exit", lambda: c.state()["Status"] == "exited")
        code = c.state()["ExitCode"]
        assert code == 1 and "ERROR: haproxy (pid" in c.logs(), f"exit code {code}; log:\n{c.logs()[-1500:]}"


TCP_CONF = """\
    global
        log stdout format raw local0 info
        stats socket /run/haproxy/admin.sock mode 600 level admin
    defaults
        log global
        mode tcp
        timeout connect 3s
        timeout client 1m
        timeout server 1m
    frontend health
        mode http
        bind :8404
        http-request return status 200 content-type text/plain string "ok\\n" if {{ path /healthz }}
        stats enable
        stats uri /stats
    # TCP balancing onto HAProxy's own health frontend: a real answer through the proxy
    frontend tcp_in
        bind :2525
        default_backend self
    backend self
        balance roundrobin
        server s1 127.0.0.1:8404 check inter 1s
    # a long-lived TCP session (echo by socat in the container) must survive reloads
    frontend tcp_echo
        bind :2527
        default_backend echo
    backend echo
        server e1 127.0.0.1:7000
    {extra}
"""


def echo(sock: socket.socket, word: bytes) -> bytes:
    sock.sendall(word)
    data = b""
    while len(data) < len(word):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    return data


def test_tcp_balancing_live_reload_and_runtime_server(tmp_path, note):
    conf = tmp_path / "conf"
    conf.mkdir()
    conf.chmod(0o755)
    (conf / "haproxy.cfg").write_text(textwrap.dedent(TCP_CONF.format(extra="")))
    with role_container("lb", volumes=[f"{conf}:/conf:ro"], timeout=20) as c:
        c.exec(["socat", "TCP-LISTEN:7000,bind=127.0.0.1,fork,reuseaddr", "EXEC:cat"], detach=True)
        wait_for("HTTP through the TCP frontend :2525", lambda: healthy(c.ip, 2525))
        held = wait_for("a TCP session through :2527 to the echo server",
                        lambda: (s := socket.create_connection((c.ip, 2527), timeout=3)) and echo(s, b"before\n") and s)

        # scale-out by config: a second frontend and server, then a hitless reload
        extra = "frontend tcp_new\n    bind :2526\n    default_backend self\n"
        (conf / "haproxy.cfg").write_text(textwrap.dedent(TCP_CONF.format(extra="")) + extra)
        t0 = time.monotonic()
        r = c.exec("lb-reload", timeout=20)
        took = time.monotonic() - t0
        assert r.ok, f"lb-reload failed (rc {r.rc}): {r.err}{r.out}"
        note("lb-reload (validate + SIGUSR2 + master confirms)", took, "s", f"(load {load()})")
        assert healthy(c.ip, 2526), "the frontend added by the reload does not answer"
        assert healthy(c.ip, 2525), "the old frontend stopped answering after the reload"
        assert echo(held, b"after\n") == b"after\n", "a TCP session opened before the reload was not served after it"
        held.close()

        # a broken config is refused and the running one keeps serving
        (conf / "haproxy.cfg").write_text("global\n    nonsense-directive\n")
        r = c.exec("lb-reload", timeout=20)
        assert r.rc == 1 and "invalid" in r.err, f"lb-reload of a broken config: rc {r.rc}, {r.err!r}"
        assert healthy(c.ip, 2526), "a refused reload broke the running config"

        # scale-out at runtime: a server added over the runtime API takes traffic
        out = runtime_api(c, "add server self/s9 127.0.0.1:8404")
        assert "New server registered" in out, f"add server answered {out!r}"
        runtime_api(c, "enable server self/s9")
        for _ in range(6):
            assert healthy(c.ip, 2525)
        stat = runtime_api(c, "show stat")
        header = stat.splitlines()[0].lstrip("# ").split(",")
        rows = {(f[0], f[1]): dict(zip(header, f)) for f in (line.split(",") for line in stat.splitlines()[1:]) if len(f) > 5}
        s9 = rows.get(("self", "s9"))
        assert s9 and int(s9["stot"]) > 0, f"the runtime-added server took no sessions: {s9}"


# -- with keepalived --------------------------------------------------------------------------
@contextmanager
def vrrp_net():
    """A labelled network with a free, known /24 (``Run``), so VIPs can be chosen before
    containers start; yields ``(run, prefix)`` with ``prefix`` like ``"10.x.y"``."""
    for _ in range(30):  # a free /24: docker refuses one that overlaps another network
        prefix = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
        run = Run("lb", subnet=f"{prefix}.0/24")
        try:
            run.__enter__()
        except HostError:
            run.close()
            continue
        break
    else:
        pytest.fail("no free 10.200-250.x.0/24 subnet for the VRRP test network")
    try:
        yield run, prefix
    finally:
        run.close()


def run_lb(net, host: str, last_octet: int, env: dict, caps=("NET_ADMIN",), volumes=(), ready=None) -> RoleContainer:
    """An lb container named ``host`` at ``<prefix>.<last_octet>``; ready when HAProxy's /healthz
    answers (``ready=()``: for one that must refuse to start)."""
    run, prefix = net
    return run.start("lb", suffix=host, hostname=host, ip=f"{prefix}.{last_octet}", env=env, cap_add=caps,
                     volumes=volumes, ready=ready, timeout=20)


def vrrp_state(c: RoleContainer) -> str:
    return c.exec("cat /run/lb/vrrp-state", timeout=5).out.strip()


def has_vip(c: RoleContainer, vip: str) -> bool:
    r = c.exec("ip -o -4 addr show", timeout=5)
    return f" inet {vip}/" in r.out


def logs(c: RoleContainer) -> str:
    return c.logs()


def test_keepalived_master_holds_vip_and_faults_when_haproxy_stops(note):
    with vrrp_net() as net:
        vip = f"{net[1]}.100"
        lb = run_lb(net, "lb1", 11, {"VRRP_VIP": vip})
        t0 = lb.started_at
        wait_for(f"lb1 MASTER with {vip} on an interface", lambda: vrrp_state(lb) == "MASTER" and has_vip(lb, vip))
        note("lb start to VRRP MASTER with VIP", time.monotonic() - t0, "s", f"(load {load()})")
        addr = lb.exec("ip -o -4 addr show").out
        assert f"eth0    inet {vip}/24" in addr, f"VIP {vip}/24 not on eth0 (the interface of its subnet):\n{addr}"
        assert healthy(vip), "HAProxy does not answer on the VIP from the host"

        # HAProxy stops answering -> probe writes 1 -> keepalived FAULT drops the VIP
        runtime_api(lb, "disable frontend health")
        t0 = time.monotonic()
        wait_for("lb1 FAULT and VIP removed after HAProxy stopped answering",
                 lambda: vrrp_state(lb) == "FAULT" and not has_vip(lb, vip), interval=0.05)
        note("HAProxy health down to VIP dropped (probe 0.2 s, fall 2)", time.monotonic() - t0, "s")
        runtime_api(lb, "enable frontend health")
        wait_for("lb1 MASTER again after HAProxy recovered", lambda: vrrp_state(lb) == "MASTER" and has_vip(lb, vip))
        log = logs(lb)
        assert "HAProxy stopped answering" in log and "entering FAULT state" in log, log[-3000:]


def test_two_lbs_fail_over_and_back(note):
    with vrrp_net() as net:
        prefix = net[1]
        vip = f"{prefix}.100"
        peers = f"{prefix}.11,{prefix}.12"  # each node drops its own address
        lb1 = run_lb(net, "lb1", 11, {"VRRP_VIP": vip, "VRRP_PRIORITY": 150, "VRRP_PEERS": peers, "VRRP_ROUTER_ID": 77})
        lb2 = run_lb(net, "lb2", 12, {"VRRP_VIP": vip, "VRRP_PRIORITY": 100, "VRRP_PEERS": peers, "VRRP_ROUTER_ID": 77})
        wait_for("lb1 MASTER and lb2 BACKUP", lambda: (vrrp_state(lb1), vrrp_state(lb2)) == ("MASTER", "BACKUP"))
        assert has_vip(lb1, vip) and not has_vip(lb2, vip), "the VIP should be on lb1 only"
        conf2 = lb2.exec("cat /run/lb/keepalived.conf").out
        assert f"unicast_peer {{\n        {prefix}.11\n    }}" in conf2, f"lb2's peers should be lb1 only:\n{conf2}"
        assert healthy(vip)

        t0 = time.monotonic()
        lb1.kill()
        wait_for("HTTP on the VIP after lb1 was killed", lambda: healthy(vip), interval=0.02)
        failover = time.monotonic() - t0
        note("lb1 docker kill (issued) to HTTP answered on the VIP by lb2", failover, "s", f"(load {load()})")
        assert has_vip(lb2, vip) and vrrp_state(lb2) == "MASTER", "lb2 should hold the VIP"
        assert failover < 5, f"failover took {failover:.2f} s; VRRPv3 at advert_int 0.1 should take well under a second"

        # the killed node restarts despite stale pid files and, with higher priority, takes the VIP back
        lb1.start_again()
        t0 = time.monotonic()
        wait_for("lb1 MASTER again after docker start", lambda: vrrp_state(lb1) == "MASTER" and has_vip(lb1, vip))
        note("lb1 docker start to MASTER (preempt)", time.monotonic() - t0, "s")
        wait_for("lb2 back to BACKUP without the VIP", lambda: vrrp_state(lb2) == "BACKUP" and not has_vip(lb2, vip))

        # a graceful stop hands over at once (priority-0 advert), not after the master-down timer
        t0 = time.monotonic()
        lb1.docker_stop()
        returned = time.monotonic() - t0
        wait_for("HTTP on the VIP after lb1 was stopped", lambda: healthy(vip), interval=0.02)
        note("lb1 docker stop to HTTP answered on the VIP by lb2", time.monotonic() - t0, "s",
               f"(docker stop itself returned after {returned:.3f} s)")
        assert has_vip(lb2, vip)
        code = lb1.state()["ExitCode"]
        assert code == 0, f"lb1 exited {code} on docker stop:\n{logs(lb1)[-2000:]}"


def test_keepalived_without_net_admin_is_refused_loudly():
    with vrrp_net() as net:
        # no protocol answer to wait for: the image must refuse to start
        lb = run_lb(net, "lb1", 11, {"VRRP_VIP": f"{net[1]}.100"}, caps=(), ready=())
        wait_for("the container to exit", lambda: lb.state()["Status"] == "exited")
        code = lb.state()["ExitCode"]
        log = logs(lb)
        assert code == 78, f"expected exit 78 (config error), got {code}:\n{log}"
        assert "ERROR: keepalived needs the capabilities NET_ADMIN" in log, f"no loud NET_ADMIN message:\n{log}"


def test_forced_without_net_admin_reports_master_without_vip():
    """LB_ALLOW_MISSING_CAPS=1 reproduces pitfall P14; the notify hook must catch it."""
    with vrrp_net() as net:
        vip = f"{net[1]}.100"
        lb = run_lb(net, "lb1", 11, {"VRRP_VIP": vip, "LB_ALLOW_MISSING_CAPS": 1}, caps=())
        wait_for("the MASTER-without-VIP state", lambda: vrrp_state(lb) == "MASTER-WITHOUT-VIP")
        assert not has_vip(lb, vip)
        log = logs(lb)
        assert f"ERROR: keepalived is MASTER but the VIP {vip} is NOT on eth0" in log, log[-3000:]
        assert "Operation not permitted" in log, "keepalived's own netlink error should be in the log too"


def test_mounted_keepalived_conf_is_used_verbatim(tmp_path):
    with vrrp_net() as net:
        vip = f"{net[1]}.100"
        conf = tmp_path / "conf"
        conf.mkdir()
        conf.chmod(0o755)
        (conf / "keepalived.conf").write_text(textwrap.dedent(f"""\
            global_defs {{
                router_id mounted
                script_user root
                enable_script_security
                vrrp_version 3
            }}
            track_file lb_health {{
                file /run/lb/health
                weight 0
            }}
            vrrp_instance VI_MOUNTED {{
                state BACKUP
                interface eth0
                virtual_router_id 61
                priority 120
                advert_int 0.1
                virtual_ipaddress {{
                    {vip}/24 dev eth0
                }}
                track_file {{
                    lb_health
                }}
                notify /usr/local/bin/lb-vrrp-notify
            }}
            """))
        lb = run_lb(net, "lb1", 11, {}, volumes=[f"{conf}:/conf:ro"])
        wait_for(f"MASTER with {vip} from the mounted keepalived.conf",
                 lambda: vrrp_state(lb) == "MASTER" and has_vip(lb, vip))
        log = logs(lb)
        assert "starting keepalived (VRRP only) with /conf/keepalived.conf" in log and "VI_MOUNTED" in log, log[-3000:]
        assert healthy(vip), "HAProxy does not answer on the VIP of the mounted config"
