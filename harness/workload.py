"""The mixed mail workload: SMTP deliveries to many users over the MX addresses, IMAP reads,
flag changes, moves and expunges, POP retrievals and deletions, webmail listings.

Every process has its own seeded RNG (``seed``, process index), so the same seed gives the
same choices; what the cluster answers is, of course, not deterministic.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .clients.imap import ImapClient
from .clients.pop3 import Pop3Client
from .clients.smtp import SmtpClient
from .clients.webmail import WebmailClient
from .history import History


@dataclass
class Mix:
    senders: int = 2
    send_rate: float = 4.0        # messages per second, all senders together
    imap: int = 1
    imap_period: float = 0.7
    p_flag: float = 0.3
    p_move: float = 0.08
    p_expunge: float = 0.08
    pop: int = 1
    pop_period: float = 1.5
    p_pop_delete: float = 0.05
    web: int = 1
    web_period: float = 2.5


class Workload:
    def __init__(self, topo, history: History, seed: int, tag: str, mix: Mix | None = None,
                 users: dict[str, str] | None = None, timeout: float = 8.0):
        self.topo = topo
        self.h = history
        self.seed = seed
        self.tag = tag
        self.mix = mix or Mix()
        self.users = users or topo.users()
        self.timeout = timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sent_ok = 0
        self.sent = 0
        self._lock = threading.Lock()
        # tokens seen in reads, per user, that the IMAP/POP processes may act on
        self.known: dict[str, set[str]] = {u: set() for u in self.users}
        self.removed: set[str] = set()

    def _rng(self, k: int) -> random.Random:
        return random.Random(f"{self.seed}:{self.tag}:{k}")

    def _sender(self, k: int):
        rng = self._rng(k)
        c = SmtpClient(self.h, f"smtp-{k}", self.topo.node_names, self.timeout)
        mx = self.topo.mx()
        period = self.mix.senders / self.mix.send_rate
        i = 0
        while not self._stop.wait(period * rng.uniform(0.7, 1.3)):
            i += 1
            user = rng.choice(sorted(self.users))
            host, port = mx[(i + k) % len(mx)]
            r = c.send(host, port, f"mh-{self.tag}-s{k}n{i}", user)
            with self._lock:
                self.sent += 1
                self.sent_ok += r == "ok"

    def _pick(self, rng, user) -> str | None:
        with self._lock:
            cand = sorted(self.known[user] - self.removed)
        return rng.choice(cand) if cand else None

    def _imap(self, k: int):
        rng = self._rng(100 + k)
        c = ImapClient(self.h, f"imap-{k}", self.topo.node_names, self.timeout)
        host, port = self.topo.endpoint("imap")
        while not self._stop.wait(self.mix.imap_period * rng.uniform(0.7, 1.3)):
            user = rng.choice(sorted(self.users))
            pw = self.users[user]
            r = c.read(host, port, user, pw)
            if r:
                with self._lock:
                    self.known[user].update(m["token"] for m in r["messages"] if m["token"])
            x = rng.random()
            tok = self._pick(rng, user)
            if tok is None:
                continue
            if x < self.mix.p_flag:
                c.flag(host, port, user, pw, tok, rng.choice(["\\Seen", "\\Flagged"]))
            elif x < self.mix.p_flag + self.mix.p_move:
                with self._lock:
                    self.removed.add(tok)  # gone from INBOX; the checker looks in every mailbox
                c.move(host, port, user, pw, [tok], "Archive")
            elif x < self.mix.p_flag + self.mix.p_move + self.mix.p_expunge:
                with self._lock:
                    self.removed.add(tok)
                c.expunge(host, port, user, pw, [tok])

    def _pop(self, k: int):
        rng = self._rng(200 + k)
        c = Pop3Client(self.h, f"pop-{k}", self.topo.node_names, self.timeout)
        host, port = self.topo.endpoint("pop3")
        while not self._stop.wait(self.mix.pop_period * rng.uniform(0.7, 1.3)):
            user = rng.choice(sorted(self.users))
            pw = self.users[user]
            toks = c.read(host, port, user, pw)
            if toks:
                with self._lock:
                    self.known[user].update(toks)
            if rng.random() < self.mix.p_pop_delete:
                tok = self._pick(rng, user)
                if tok:
                    with self._lock:
                        self.removed.add(tok)
                    c.delete(host, port, user, pw, [tok])

    def _web(self, k: int):
        rng = self._rng(300 + k)
        c = WebmailClient(self.h, f"web-{k}", self.topo.node_names, self.timeout)
        host, port = self.topo.endpoint("http")
        while not self._stop.wait(self.mix.web_period * rng.uniform(0.7, 1.3)):
            user = rng.choice(sorted(self.users))
            c.list(f"http://{host}:{port}", user, self.users[user])

    def start(self):
        m = self.mix
        plan = [(self._sender, m.senders, True)]
        plan += [(self._imap, m.imap, self.topo.has_endpoint("imap")),
                 (self._pop, m.pop, self.topo.has_endpoint("pop3")),
                 (self._web, m.web, self.topo.has_endpoint("http"))]
        for fn, n, enabled in plan:
            if not enabled:
                continue
            for k in range(n):
                t = threading.Thread(target=fn, args=(k,), daemon=True, name=f"{fn.__name__}-{k}")
                t.start()
                self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout * 4)
