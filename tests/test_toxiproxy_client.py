"""harness.clients.toxiproxy against a real Toxiproxy server and a TCP echo server, both on loopback."""
from __future__ import annotations

import http.server
import json
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from harness.clients.toxiproxy import TOXIC_TYPES, Toxiproxy, ToxiproxyError
from harness.errors import FaultError

BINARY = Path(__file__).resolve().parent.parent / ".cache" / "bin" / "toxiproxy-server-v2.12.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Toxiproxy server on a free loopback port: (base_url, log path)."""
    if not BINARY.exists():
        pytest.skip(f"no Toxiproxy server at {BINARY}; run scripts/setup to build it")
    log = tmp_path_factory.mktemp("toxiproxy") / "server.log"
    for _ in range(3):  # the port may be taken between free_port() and the server's bind
        port = free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(BINARY), "-host", "127.0.0.1", "-port", str(port)],
                                    stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20  # a cold start on a loaded 2-core host took over 5 s
        while time.monotonic() < deadline and proc.poll() is None:
            if b"address already in use" in log.read_bytes():
                break  # it stays alive without its API: try another port
            try:
                requests.get(url + "/version", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        if b"address already in use" not in log.read_bytes() and proc.poll() is None:
            try:
                yield url, log
            finally:
                proc.kill()
                proc.wait(5)
            return
        proc.kill()
        proc.wait(5)
    pytest.fail(f"Toxiproxy did not start; its log:\n{log.read_text()[-2000:]}")


@pytest.fixture
def tp(server):
    """A client on a clean server (no proxies)."""
    c = Toxiproxy(server[0], timeout=3)
    for name in c.proxies():
        c.delete(name)
    return c


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo():
    """A TCP echo server on loopback: its 'host:port'."""
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def addr(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def round_trip(sock: socket.socket, payload: bytes = b"ping\n") -> float:
    """Send ``payload``, read it back whole; the seconds it took."""
    t0 = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the proxy")
        got += chunk
    assert got == payload
    return time.monotonic() - t0


def connect(listen: str, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(addr(listen), timeout=timeout)


# ------------------------------------------------------------------ proxies

def test_version_and_patch_detection(tp, server):
    assert tp.version()  # v2.12.0 built by 'go install' answers {"version": "git"}
    assert tp._patch is True
    p = tp.create("ver", "127.0.0.1:0", "127.0.0.1:9")
    tp.disable("ver")
    requests_log = [json.loads(l) for l in server[1].read_text().splitlines() if l.startswith("{")]
    methods = [r.get("method") for r in requests_log if r.get("url") == "/proxies/ver"]
    assert methods[-1] == "PATCH" and p["name"] == "ver"


def test_proxy_forwards_bytes(tp, echo):
    p = tp.create("fwd", "127.0.0.1:0", echo)
    assert p["upstream"] == echo and p["enabled"] is True
    with connect(p["listen"]) as s:
        assert round_trip(s, b"x" * 100_000) < 1.0
    assert set(tp.proxies()) == {"fwd"}


def test_create_is_an_ensure(tp, echo):
    p = tp.create("ens", "127.0.0.1:0", echo)
    tp.add_toxic("ens", "latency", {"latency": 10})
    same = tp.create("ens", "127.0.0.1:0", echo)
    assert same["listen"] == p["listen"] and len(tp.toxics("ens")) == 1  # kept as it was
    tp.disable("ens")
    assert tp.create("ens", "127.0.0.1:0", echo)["enabled"] is True      # kept, but enabled as asked
    moved = tp.create("ens", "127.0.0.1:0", "127.0.0.1:9")
    assert moved["upstream"] == "127.0.0.1:9" and tp.toxics("ens") == []  # replaced
    assert tp.proxies()["ens"]["upstream"] == "127.0.0.1:9"


def test_disable_refuses_and_ends_connections(tp, echo):
    p = tp.create("dis", "127.0.0.1:0", echo)
    old = connect(p["listen"])
    round_trip(old)
    assert tp.disable("dis")["enabled"] is False
    with pytest.raises(OSError):
        connect(p["listen"], timeout=1).close()
    with pytest.raises(OSError):  # the open connection was dropped (EOF or reset)
        round_trip(old)
    old.close()
    tp.enable("dis")
    with connect(p["listen"]) as s:
        round_trip(s)


def test_delete(tp, echo):
    p = tp.create("del", "127.0.0.1:0", echo)
    tp.delete("del")
    assert "del" not in tp.proxies()
    with pytest.raises(OSError):
        connect(p["listen"], timeout=1).close()


# ------------------------------------------------------------------ toxics

def test_latency_slows_round_trips_and_can_be_updated(tp, echo):
    p = tp.create("lat", "127.0.0.1:0", echo)
    with connect(p["listen"]) as s:
        base = round_trip(s)
        t = tp.add_toxic("lat", "latency", {"latency": 300})
        assert t["name"] == "latency_downstream" and t["attributes"]["latency"] == 300
        slow = round_trip(s)
        tp.update_toxic("lat", "latency_downstream", {"latency": 0})
        assert tp.toxics("lat")[0]["attributes"]["latency"] == 0
        fast = round_trip(s)
    assert base < 0.15, base
    assert 0.28 <= slow <= 0.9, slow
    assert fast < 0.15, fast


def test_timeout_zero_holds_until_removed(tp, echo):
    p = tp.create("hold", "127.0.0.1:0", echo)
    with connect(p["listen"], timeout=0.4) as s:
        round_trip(s)
        tp.add_toxic("hold", "timeout", {"timeout": 0}, name="hold")
        with pytest.raises(socket.timeout):
            round_trip(s, b"lost\n")  # held: no answer, no close
        tp.remove_toxic("hold", "hold")
        assert tp.toxics("hold") == []
        # v2.12.0 ends the held connections when the toxic goes (they do not resume): healing a
        # link-hold means the clients reconnect
        assert s.recv(100) == b""
    with connect(p["listen"], timeout=0.4) as s:
        round_trip(s, b"again\n")


def test_bandwidth_limits_throughput(tp, echo):
    p = tp.create("bw", "127.0.0.1:0", echo)
    tp.add_toxic("bw", "bandwidth", {"rate": 64}, stream="upstream")  # KB/s, client -> server
    with connect(p["listen"], timeout=3) as s:
        took = round_trip(s, b"b" * 32 * 1024)
    assert 0.4 <= took <= 1.5, took


def test_toxic_options_and_reset(tp, echo):
    tp.create("rst", "127.0.0.1:0", echo)
    t = tp.add_toxic("rst", "slicer", {"average_size": 10}, stream="upstream", toxicity=0.5, name="slice")
    assert (t["name"], t["stream"], t["toxicity"]) == ("slice", "upstream", 0.5)
    assert tp.update_toxic("rst", "slice", toxicity=0.25)["toxicity"] == 0.25
    tp.disable("rst")
    tp.reset()
    assert tp.toxics("rst") == [] and tp.proxies()["rst"]["enabled"] is True


# ------------------------------------------------------------------ errors

def test_errors_are_raised_with_the_servers_message(tp, echo):
    with pytest.raises(ToxiproxyError) as e:
        tp.toxics("nope")
    assert (e.value.method, e.value.path, e.value.status) == ("GET", "/proxies/nope/toxics", 404)
    assert str(e.value) == "Toxiproxy GET /proxies/nope/toxics answered 404: proxy not found"
    assert isinstance(e.value, FaultError)  # the CLI ends with the harness exit code

    with pytest.raises(ToxiproxyError, match="DELETE /proxies/nope answered 404: proxy not found"):
        tp.delete("nope")
    p = tp.create("one", "127.0.0.1:0", echo)
    # another proxy on the same listen address: the server cannot bind it
    with pytest.raises(ToxiproxyError) as e:
        tp.create("two", p["listen"], "127.0.0.1:9")
    assert e.value.status and e.value.status >= 400 and "address already in use" in e.value.message
    tp.add_toxic("one", "latency", {"latency": 1})
    with pytest.raises(ToxiproxyError, match="409: toxic already exists"):
        tp.add_toxic("one", "latency", {"latency": 2})
    with pytest.raises(ToxiproxyError, match="400: bad request body.*latency"):
        tp.add_toxic("one", "latency", {"latency": "slow"}, name="bad")
    with pytest.raises(ToxiproxyError, match="404: toxic not found"):
        tp.update_toxic("one", "nope", {"latency": 1})


def test_client_side_validation_sends_nothing(tp, server):
    tp.create("val", "127.0.0.1:0", "127.0.0.1:9")
    before = server[1].read_text().count('"url":"/proxies/val/toxics"')
    with pytest.raises(ToxiproxyError) as e:
        tp.add_toxic("val", "packet_loss", {"probability": 0.1})
    assert e.value.status is None
    assert "unknown toxic type 'packet_loss'; the types are: " + ", ".join(TOXIC_TYPES) in str(e.value)
    with pytest.raises(ToxiproxyError, match="stream must be upstream or downstream"):
        tp.add_toxic("val", "latency", {}, stream="both")
    with pytest.raises(ToxiproxyError, match="toxicity must be between 0 and 1"):
        tp.add_toxic("val", "latency", {}, toxicity=2)
    assert server[1].read_text().count('"url":"/proxies/val/toxics"') == before


def test_unreachable_server():
    c = Toxiproxy(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(ToxiproxyError) as e:
        c.proxies()
    assert e.value.status is None and "is not reachable" in str(e.value)


# ------------------------------------------------------------------ old servers (a scripted fake)

class _Fake(http.server.BaseHTTPRequestHandler):
    """Answers like a 2.5 server: plain-text /version, POST for updates; records requests."""
    seen: list = []
    answers: dict = {}

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        type(self).seen.append((self.command, self.path, body))
        status, text = type(self).answers.get((self.command, self.path), (404, '{"error":"not found"}'))
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *a):
        pass


@pytest.fixture
def fake():
    _Fake.seen, _Fake.answers = [], {}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", _Fake
    srv.shutdown()
    srv.server_close()


def test_plain_text_version_uses_post(fake):
    url, h = fake
    h.answers = {("GET", "/version"): (200, "2.5.0\n"),
                 ("POST", "/proxies/p"): (200, '{"name": "p", "enabled": false}')}
    c = Toxiproxy(url)
    assert c.version() == "2.5.0"
    assert c.disable("p") == {"name": "p", "enabled": False}
    assert [(m, p) for m, p, _ in h.seen] == [("GET", "/version"), ("POST", "/proxies/p")]
    assert json.loads(h.seen[-1][2]) == {"enabled": False}


def test_other_http_errors_are_not_ignored(fake):
    # toxiproxy-python only raised on 400/404/409: a 500 here would have passed silently
    url, h = fake
    h.answers = {("GET", "/version"): (200, '{"version": "2.12.0"}'),
                 ("PATCH", "/proxies/p/toxics/t"): (500, "internal trouble"),
                 ("POST", "/reset"): (503, '{"error": "busy", "status": 503}')}
    c = Toxiproxy(url)
    with pytest.raises(ToxiproxyError, match="PATCH /proxies/p/toxics/t answered 500: internal trouble"):
        c.update_toxic("p", "t", {"latency": 5})
    with pytest.raises(ToxiproxyError, match="POST /reset answered 503: busy"):
        c.reset()


def test_patch_falls_back_to_post_on_405(fake):
    url, h = fake
    h.answers = {("GET", "/version"): (200, '{"version": "2.6.0"}'),
                 ("PATCH", "/proxies/p"): (405, ""),
                 ("POST", "/proxies/p"): (200, '{"name": "p", "enabled": true}')}
    c = Toxiproxy(url)
    assert c.enable("p")["enabled"] is True
    assert c.enable("p")["enabled"] is True
    assert [m for m, _, _ in h.seen] == ["GET", "PATCH", "POST", "POST"]
