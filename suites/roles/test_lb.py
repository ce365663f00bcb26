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
from dataclasses import dataclass, field

import pytest
import requests

from harness import docker, images
from harness.cluster import owner_label, remove_run
from harness.docker import LABEL_DESIGN, LABEL_OWNER, LABEL_RUN
from harness.solo import solo
from harness.store import new_run_id

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


def runtime_api(c, cmd: str) -> str:
    r = docker.exec_(c if isinstance(c, str) else c.name, f"echo '{cmd}' | socat -t 2 stdio unix-connect:{ADMIN_SOCK}")
    assert r.ok, f"runtime API '{cmd}' failed: {r.err}"
    return r.out



def load() -> str:
    return open("/proc/loadavg").read().split()[0]


# -- alone -------------------------------------------------------------------------------------
def test_default_config_health_and_stats():
    with solo("lb") as c:
        wait_for("HAProxy /healthz on :8404", lambda: healthy(c.ip))
        r = get(c.ip)
        assert (r.status_code, r.text) == (200, "ok\n"), f"/healthz answered {r.status_code} {r.text!r}"
        r = get(c.ip, path="/stats")
        assert r.status_code == 200 and "Statistics Report" in r.text, f"/stats answered {r.status_code} {r.text[:200]!r}"
        chk = c.exec("haproxy -c -f /etc/haproxy/haproxy.cfg")
        assert chk.ok and "Configuration file is valid" in chk.out + chk.err, f"haproxy -c: rc {chk.rc} {chk.out}{chk.err}"
        ps = c.exec("ps -eo args")
        assert "haproxy -W" in ps.out, f"HAProxy is not in master-worker mode:\n{ps.out}"
        assert "keepalived" not in ps.out, f"keepalived runs although neither VRRP_VIP nor /conf/keepalived.conf is set:\n{ps.out}"
        docker.run(["kill", "-s", "HUP", c.name])  # SIGHUP to PID 1 = lb-reload
        wait_for("reload 1 in the master's show proc after SIGHUP", lambda: " master          1 [failed: 0]" in c.exec(
            "echo 'show proc' | socat stdio unix-connect:/run/haproxy/master.sock").out)
        assert healthy(c.ip), "HAProxy stopped answering after SIGHUP"
        t0 = time.monotonic()
        docker.run(["stop", c.name])
        stopped = time.monotonic() - t0
        code = docker.run(["inspect", "-f", "{{.State.ExitCode}}", c.name]).out.strip()
        assert stopped < 5 and code == "0", f"docker stop took {stopped:.1f} s, exit code {code}; expected a clean TERM stop"
        assert "TERM: stopping" in c.logs()


def test_dead_haproxy_worker_ends_the_container():
    """A crashed worker must not leave a half-alive LB (keepalived would keep the VIP)."""
    with solo("lb") as c:
        wait_for("HAProxy /healthz on :8404", lambda: healthy(c.ip))
        r = c.exec("kill -9 $(pgrep -P $(cat /run/haproxy/haproxy.pid))")
        assert r.ok, f"could not kill the worker: {r.err}"
        wait_for("the container to exit", lambda: docker.run(["inspect", "-f", "{{.State.Status}}", c.name]).out.strip() == "exited")
        code = docker.run(["inspect", "-f", "{{.State.ExitCode}}", c.name]).out.strip()
        assert code == "1" and "ERROR: haproxy (pid" in c.logs(), f"exit code {code}; log:\n{c.logs()[-1500:]}"


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
    with solo("lb", volumes=[f"{conf}:/conf:ro"]) as c:
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
@dataclass
class Net:
    """A labelled network with a known /24, so VIPs can be chosen before containers start."""
    run_id: str
    name: str
    prefix: str                       # "10.x.y"
    labels: list[str] = field(default_factory=list)

    def run_lb(self, host: str, last_octet: int, env: dict, caps=("NET_ADMIN",), volumes=()) -> str:
        ref = images.resolve("lb")
        if not ref:
            images.build(["lb"])
            ref = images.resolve("lb")
        name = f"{self.name}-{host}"
        argv = ["run", "-d", "--name", name, "--hostname", host, "--network", self.name,
                "--ip", f"{self.prefix}.{last_octet}", *self.labels]
        for k, v in env.items():
            argv += ["-e", f"{k}={v}"]
        for cap in caps:
            argv += ["--cap-add", cap]
        for v in volumes:
            argv += ["-v", v]
        docker.run([*argv, ref])
        return name


@contextmanager
def vrrp_net():
    run_id = new_run_id("solo-lb-vrrp")
    labels = ["--label", f"{LABEL_RUN}={run_id}", "--label", f"{LABEL_OWNER}={owner_label()}",
              "--label", f"{LABEL_DESIGN}=solo-lb"]
    name = f"mailha-{run_id}"
    try:
        for _ in range(30):  # a free /24: docker refuses one that overlaps another network
            prefix = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
            if docker.run(["network", "create", *labels, "--subnet", f"{prefix}.0/24", name], check=False).ok:
                break
        else:
            pytest.fail("no free 10.200-250.x.0/24 subnet for the VRRP test network")
        yield Net(run_id, name, prefix, labels)
    finally:
        remove_run(run_id)


def vrrp_state(name: str) -> str:
    return docker.exec_(name, "cat /run/lb/vrrp-state", timeout=5).out.strip()


def has_vip(name: str, vip: str) -> bool:
    r = docker.exec_(name, "ip -o -4 addr show", timeout=5)
    return f" inet {vip}/" in r.out


def logs(name: str) -> str:
    r = docker.run(["logs", name], check=False)
    return r.out + r.err


def test_keepalived_master_holds_vip_and_faults_when_haproxy_stops(note):
    with vrrp_net() as net:
        vip = f"{net.prefix}.100"
        lb = net.run_lb("lb1", 11, {"VRRP_VIP": vip})
        t0 = time.monotonic()
        wait_for(f"lb1 MASTER with {vip} on an interface", lambda: vrrp_state(lb) == "MASTER" and has_vip(lb, vip))
        note("lb start to VRRP MASTER with VIP", time.monotonic() - t0, "s", f"(load {load()})")
        addr = docker.exec_(lb, "ip -o -4 addr show").out
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
        vip = f"{net.prefix}.100"
        peers = f"{net.prefix}.11,{net.prefix}.12"  # each node drops its own address
        lb1 = net.run_lb("lb1", 11, {"VRRP_VIP": vip, "VRRP_PRIORITY": 150, "VRRP_PEERS": peers, "VRRP_ROUTER_ID": 77})
        lb2 = net.run_lb("lb2", 12, {"VRRP_VIP": vip, "VRRP_PRIORITY": 100, "VRRP_PEERS": peers, "VRRP_ROUTER_ID": 77})
        wait_for("lb1 MASTER and lb2 BACKUP", lambda: (vrrp_state(lb1), vrrp_state(lb2)) == ("MASTER", "BACKUP"))
        assert has_vip(lb1, vip) and not has_vip(lb2, vip), "the VIP should be on lb1 only"
        conf2 = docker.exec_(lb2, "cat /run/lb/keepalived.conf").out
        assert f"unicast_peer {{\n        {net.prefix}.11\n    }}" in conf2, f"lb2's peers should be lb1 only:\n{conf2}"
        assert healthy(vip)

        t0 = time.monotonic()
        docker.run(["kill", lb1])
        wait_for("HTTP on the VIP after lb1 was killed", lambda: healthy(vip), interval=0.02)
        failover = time.monotonic() - t0
        note("lb1 docker kill (issued) to HTTP answered on the VIP by lb2", failover, "s", f"(load {load()})")
        assert has_vip(lb2, vip) and vrrp_state(lb2) == "MASTER", "lb2 should hold the VIP"
        assert failover < 5, f"failover took {failover:.2f} s; VRRPv3 at advert_int 0.1 should take well under a second"

        # the killed node restarts despite stale pid files and, with higher priority, takes the VIP back
        docker.run(["start", lb1])
        t0 = time.monotonic()
        wait_for("lb1 MASTER again after docker start", lambda: vrrp_state(lb1) == "MASTER" and has_vip(lb1, vip))
        note("lb1 docker start to MASTER (preempt)", time.monotonic() - t0, "s")
        wait_for("lb2 back to BACKUP without the VIP", lambda: vrrp_state(lb2) == "BACKUP" and not has_vip(lb2, vip))

        # a graceful stop hands over at once (priority-0 advert), not after the master-down timer
        t0 = time.monotonic()
        docker.run(["stop", lb1])
        returned = time.monotonic() - t0
        wait_for("HTTP on the VIP after lb1 was stopped", lambda: healthy(vip), interval=0.02)
        note("lb1 docker stop to HTTP answered on the VIP by lb2", time.monotonic() - t0, "s",
               f"(docker stop itself returned after {returned:.3f} s)")
        assert has_vip(lb2, vip)
        code = docker.run(["inspect", "-f", "{{.State.ExitCode}}", lb1]).out.strip()
        assert code == "0", f"lb1 exited {code} on docker stop:\n{logs(lb1)[-2000:]}"


def test_keepalived_without_net_admin_is_refused_loudly():
    with vrrp_net() as net:
        lb = net.run_lb("lb1", 11, {"VRRP_VIP": f"{net.prefix}.100"}, caps=())
        wait_for("the container to exit", lambda: docker.run(["inspect", "-f", "{{.State.Status}}", lb]).out.strip() == "exited")
        code = docker.run(["inspect", "-f", "{{.State.ExitCode}}", lb]).out.strip()
        log = logs(lb)
        assert code == "78", f"expected exit 78 (config error), got {code}:\n{log}"
        assert "ERROR: keepalived needs the capabilities NET_ADMIN" in log, f"no loud NET_ADMIN message:\n{log}"


def test_forced_without_net_admin_reports_master_without_vip():
    """LB_ALLOW_MISSING_CAPS=1 reproduces pitfall P14; the notify hook must catch it."""
    with vrrp_net() as net:
        vip = f"{net.prefix}.100"
        lb = net.run_lb("lb1", 11, {"VRRP_VIP": vip, "LB_ALLOW_MISSING_CAPS": 1}, caps=())
        wait_for("the MASTER-without-VIP state", lambda: vrrp_state(lb) == "MASTER-WITHOUT-VIP")
        assert not has_vip(lb, vip)
        log = logs(lb)
        assert f"ERROR: keepalived is MASTER but the VIP {vip} is NOT on eth0" in log, log[-3000:]
        assert "Operation not permitted" in log, "keepalived's own netlink error should be in the log too"


def test_mounted_keepalived_conf_is_used_verbatim(tmp_path):
    with vrrp_net() as net:
        vip = f"{net.prefix}.100"
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
        lb = net.run_lb("lb1", 11, {}, volumes=[f"{conf}:/conf:ro"])
        wait_for(f"MASTER with {vip} from the mounted keepalived.conf",
                 lambda: vrrp_state(lb) == "MASTER" and has_vip(lb, vip))
        log = logs(lb)
        assert "starting keepalived (VRRP only) with /conf/keepalived.conf" in log and "VI_MOUNTED" in log, log[-3000:]
        assert healthy(vip), "HAProxy does not answer on the VIP of the mounted config"
