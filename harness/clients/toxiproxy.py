"""A small client for the Toxiproxy HTTP API (servers 2.x), used by the link faults.

Written instead of toxiproxy-python 0.1.1, which keeps one server per process in class
attributes, needs the py2 ``future`` package, cannot update a toxic and ignores HTTP errors
other than 400/404/409 -- a fault that was not applied would pass silently. Here every
non-2xx answer and every connection failure raises ``ToxiproxyError``.
"""
from __future__ import annotations

import re
from urllib.parse import quote

import requests

from ..errors import FaultError

#: toxic types of Toxiproxy 2.12 (``toxics/``); checked before a request is sent
TOXIC_TYPES = ("latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")
STREAMS = ("upstream", "downstream")
_WILDCARDS = {"", "0.0.0.0", "[::]", "::", "*"}


class ToxiproxyError(FaultError):
    """A Toxiproxy request failed; ``status`` is None when the server was not reachable."""

    def __init__(self, method: str, path: str, status: int | None, message: str):
        self.method, self.path, self.status, self.message = method, path, status, message
        what = f"answered {status}" if status is not None else "failed"
        super().__init__(f"Toxiproxy {method} {path} {what}: {message}")


class Toxiproxy:
    """One Toxiproxy server, e.g. ``Toxiproxy("http://127.0.0.1:8474")``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8474", timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._patch: bool | None = None  # does the server take PATCH (>= 2.6)? learnt from /version

    # ---- plumbing
    def _request(self, method: str, path: str, body=None):
        try:
            r = self._session.request(method, self.base_url + path, json=body, timeout=self.timeout)
        except requests.RequestException as e:
            raise ToxiproxyError(method, path, None, f"{self.base_url} is not reachable ({type(e).__name__}: {e})") from None
        if not 200 <= r.status_code < 300:
            try:
                msg = r.json().get("error") or r.text.strip()
            except (ValueError, AttributeError):
                msg = r.text.strip() or r.reason
            raise ToxiproxyError(method, path, r.status_code, msg)
        if r.status_code == 204 or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            return r.text

    def _update(self, path: str, body: dict):
        # 2.6 added PATCH and deprecated POST for updates; older servers only know POST
        if self._patch is None:
            self.version()
        if self._patch:
            try:
                return self._request("PATCH", path, body)
            except ToxiproxyError as e:
                if e.status != 405:  # a server without PATCH despite its version: fall back
                    raise
                self._patch = False
        return self._request("POST", path, body)

    # ---- server
    def version(self) -> str:
        """The server's version: plain text up to 2.5, ``{"version": ...}`` from 2.6."""
        v = self._request("GET", "/version")
        if isinstance(v, dict):
            self._patch = True
            return str(v.get("version", ""))
        v = str(v or "").strip()
        m = re.match(r"v?(\d+)\.(\d+)", v)
        self._patch = bool(m) and (int(m[1]), int(m[2])) >= (2, 6)
        return v

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._request("POST", "/reset")

    # ---- proxies
    def proxies(self) -> dict[str, dict]:
        return self._request("GET", "/proxies") or {}

    def proxy(self, name: str) -> dict:
        return self._request("GET", f"/proxies/{_q(name)}")

    def create(self, name: str, listen: str, upstream: str, enabled: bool = True) -> dict:
        """Ensure a proxy: keep an existing one with the same upstream (and listen address,
        unless port 0 was asked for), replace one that differs."""
        cur = self.proxies().get(name)
        if cur is not None:
            if cur.get("upstream") == upstream and _same_listen(cur.get("listen", ""), listen):
                if bool(cur.get("enabled")) != enabled:
                    cur = self._update(f"/proxies/{_q(name)}", {"enabled": enabled})
                return cur
            self.delete(name)
        return self._request("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream,
                                                  "enabled": enabled})

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{_q(name)}")

    def enable(self, name: str) -> dict:
        return self._update(f"/proxies/{_q(name)}", {"enabled": True})

    def disable(self, name: str) -> dict:
        """Stop listening and drop every connection: the link is down."""
        return self._update(f"/proxies/{_q(name)}", {"enabled": False})

    # ---- toxics
    def toxics(self, proxy: str) -> list[dict]:
        return self._request("GET", f"/proxies/{_q(proxy)}/toxics") or []

    def add_toxic(self, proxy: str, type: str, attributes: dict | None = None, stream: str = "downstream",
                  toxicity: float = 1.0, name: str | None = None) -> dict:
        """Add a toxic; its name defaults to ``<type>_<stream>`` as on the server."""
        path = f"/proxies/{_q(proxy)}/toxics"
        if type not in TOXIC_TYPES:
            raise ToxiproxyError("POST", path, None, f"unknown toxic type {type!r}; the types are: {', '.join(TOXIC_TYPES)}")
        if stream not in STREAMS:
            raise ToxiproxyError("POST", path, None, f"stream must be upstream or downstream, not {stream!r}")
        if not 0.0 <= toxicity <= 1.0:
            raise ToxiproxyError("POST", path, None, f"toxicity must be between 0 and 1, not {toxicity!r}")
        return self._request("POST", path, {"name": name or f"{type}_{stream}", "type": type, "stream": stream,
                                            "toxicity": toxicity, "attributes": dict(attributes or {})})

    def update_toxic(self, proxy: str, name: str, attributes: dict | None = None,
                     toxicity: float | None = None) -> dict:
        body: dict = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self._update(f"/proxies/{_q(proxy)}/toxics/{_q(name)}", body)

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._request("DELETE", f"/proxies/{_q(proxy)}/toxics/{_q(name)}")


def _same_listen(have: str, want: str) -> bool:
    # the server reports 0.0.0.0:P as [::]:P and port 0 as the port it chose
    hh, _, hp = have.rpartition(":")
    wh, _, wp = want.rpartition(":")
    if wp in ("", "0"):
        return hh == wh or (hh in _WILDCARDS and wh in _WILDCARDS)
    return hp == wp and (hh == wh or (hh in _WILDCARDS and wh in _WILDCARDS))


def _q(name: str) -> str:
    return quote(name, safe="")
