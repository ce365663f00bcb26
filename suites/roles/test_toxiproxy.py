"""Smoke test of the toxiproxy role image, started alone.

A proxy in the container in front of Toxiproxy's own API (0.0.0.0:20000 -> 127.0.0.1:8474)
gives a real upstream with no other container: requests through it must answer, slow down
by a latency toxic, hang under a timeout toxic while the API itself still answers, and
recover on /reset. Uses requests directly (the harness client is tested elsewhere).
"""
from __future__ import annotations

import statistics
import time
import warnings

import pytest
import requests

from harness.containers import role_container
from harness.images import TOXIPROXY_VERSION

API = 8474
LISTEN = 20000



@pytest.fixture(scope="module")
def tp():
    # ready: Toxiproxy's API answers GET /version (harness.readiness.toxiproxy)
    with role_container("toxiproxy", timeout=20) as c:
        c.api = f"http://{c.ip}:{API}"
        c.via = f"http://{c.ip}:{LISTEN}"
        yield c


def timed_get(url: str, n: int = 5, timeout: float = 5.0) -> float:
    """Median seconds of n fresh-connection GETs (each must answer 200 with a version)."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        r = requests.get(url, timeout=timeout, headers={"Connection": "close"})
        times.append(time.monotonic() - t0)
        assert r.status_code == 200 and "version" in r.json(), f"GET {url} answered {r.status_code} {r.text!r}"
    return statistics.median(times)


def test_api_answers_version(tp, note):
    note("toxiproxy start to API answer (after docker run returned)", tp.ready_s, "s")
    r = requests.get(f"{tp.api}/version", timeout=2)
    assert r.status_code == 200, f"/version answered {r.status_code} {r.text!r}"
    version = r.json().get("version")
    assert version, f"/version has no version: {r.text!r}"
    if version != TOXIPROXY_VERSION.lstrip("v"):
        # a binary from `go install` without -ldflags reports "git"
        warnings.warn(f"toxiproxy reports version {version!r}, expected {TOXIPROXY_VERSION.lstrip('v')!r}: "
                      f"rebuild .cache/bin/toxiproxy-server-{TOXIPROXY_VERSION} with scripts/setup")


def test_proxy_latency_timeout_and_reset(tp, note):
    r = requests.post(f"{tp.api}/proxies", json={"name": "api", "listen": f"0.0.0.0:{LISTEN}",
                                                  "upstream": f"127.0.0.1:{API}"}, timeout=5)
    assert r.status_code == 201, f"creating the proxy answered {r.status_code} {r.text!r}"
    direct = requests.get(f"{tp.api}/version", timeout=2).json()
    assert requests.get(f"{tp.via}/version", timeout=2).json() == direct, "the proxied answer differs from the direct one"
    base = timed_get(f"{tp.via}/version")

    # latency: 300 ms on the downstream (server -> client) direction
    r = requests.post(f"{tp.api}/proxies/api/toxics", json={"name": "lat", "type": "latency", "stream": "downstream",
                                                             "attributes": {"latency": 300, "jitter": 0}}, timeout=5)
    assert r.status_code == 200, f"adding the latency toxic answered {r.status_code} {r.text!r}"
    slow = timed_get(f"{tp.via}/version", n=3)
    added = slow - base
    note("latency toxic 300 ms: added delay (median of 3)", added * 1000, "ms",
           f"(baseline {base * 1000:.1f} ms; load {open('/proc/loadavg').read().split()[0]})")
    assert 0.28 <= added <= 0.6, f"a 300 ms latency toxic added {added * 1000:.0f} ms (baseline {base * 1000:.0f} ms)"

    r = requests.delete(f"{tp.api}/proxies/api/toxics/lat", timeout=5)
    assert r.status_code == 204, f"removing the toxic answered {r.status_code} {r.text!r}"
    after = timed_get(f"{tp.via}/version", n=3)
    assert after < base + 0.15, f"still slow after removing the toxic: {after * 1000:.0f} ms vs {base * 1000:.0f} ms"

    # timeout 0: the connection is accepted but no data passes until the toxic goes
    r = requests.post(f"{tp.api}/proxies/api/toxics", json={"name": "stall", "type": "timeout",
                                                             "attributes": {"timeout": 0}}, timeout=5)
    assert r.status_code == 200, f"adding the timeout toxic answered {r.status_code} {r.text!r}"
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        r = requests.get(f"{tp.via}/version", timeout=(2, 2))
        pytest.fail(f"a request through a timeout=0 proxy answered {r.status_code} {r.text!r} instead of hanging")
    hung = time.monotonic() - t0
    note("timeout toxic 0: request hung until the client gave up", hung, "s", "(client timeout 2 s)")
    assert hung >= 1.9, f"the request failed after {hung:.2f} s instead of hanging until the 2 s client timeout"
    assert requests.get(f"{tp.api}/version", timeout=2).ok, "the API must answer while a proxy stalls"

    # /reset removes every toxic (and re-enables proxies)
    r = requests.post(f"{tp.api}/reset", timeout=5)
    assert r.status_code == 204, f"/reset answered {r.status_code} {r.text!r}"
    toxics = requests.get(f"{tp.api}/proxies/api/toxics", timeout=2).json()
    assert toxics == [], f"toxics left after /reset: {toxics}"
    assert timed_get(f"{tp.via}/version", n=1, timeout=3) < 1.0


def test_disabled_proxy_refuses_then_recovers(tp):
    """enabled=false is how the harness takes a service down: the listener closes."""
    requests.post(f"{tp.api}/proxies", json={"name": "api2", "listen": f"0.0.0.0:{LISTEN + 1}",
                                              "upstream": f"127.0.0.1:{API}"}, timeout=5).raise_for_status()
    via = f"http://{tp.ip}:{LISTEN + 1}/version"
    assert requests.get(via, timeout=2).ok
    r = requests.post(f"{tp.api}/proxies/api2", json={"enabled": False}, timeout=5)
    assert r.status_code == 200 and r.json()["enabled"] is False, f"disabling answered {r.status_code} {r.text!r}"
    with pytest.raises(requests.exceptions.ConnectionError):
        r = requests.get(via, timeout=2)
        pytest.fail(f"a disabled proxy still answered {r.status_code}")
    requests.post(f"{tp.api}/reset", timeout=5).raise_for_status()
    assert requests.get(via, timeout=2).ok, "the proxy did not come back after /reset"


def test_stop_is_clean(tp):
    t0 = time.monotonic()
    tp.docker_stop()
    took = time.monotonic() - t0
    code = tp.state()["ExitCode"]
    assert took < 5 and code == 0, f"docker stop took {took:.1f} s with exit code {code}:\n{tp.logs()[-1500:]}"
