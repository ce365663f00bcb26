"""A scenario: workload, probes, sessions and observers running while faults come and go, then
recovery, convergence and final reads of every replica — the pattern every suite follows::

    with Scenario(cluster, history, seed=..., tag=...) as sc:
        sc.steady(5)
        with sc.fault("kill", "vip-holder"):
            sc.wait(8)
        sc.steady(3)
    # afterwards: sc.window, sc.final (final reads), sc.convergence; run the checkers

Leaving the block stops the workload, heals whatever is still applied (a failed heal fails the
test), waits for mail queues to drain and replicas to converge, and reads every replica.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

from chaos.faults import Nemesis
from . import docker, observers
from .history import History
from .probes import Prober, Sessions
from .progress import Progress
from .topology import Topology
from .workload import Mix, Workload


class Scenario:
    def __init__(self, cluster, history: History, *, seed: int, tag: str, mix: Mix | None = None,
                 workload: bool = True, probes: bool = True, sessions: bool = True, vip: bool = True,
                 probe_rate: float = 10.0, converge_s: float = 60.0, drain_s: float = 90.0,
                 progress: Progress | None = None):
        self.cluster = cluster
        self.topo = Topology(cluster)
        self.h = history
        self.seed = seed
        self.tag = tag
        self.progress = progress or Progress()
        self.nemesis = Nemesis(cluster, self.topo, history, self.progress)
        self.workload = Workload(self.topo, history, seed, tag, mix) if workload else None
        self.prober = Prober(self.topo, history, rate=probe_rate) if probes else None
        self.sessions = Sessions(self.topo, history) if sessions else None
        self.vip = observers.VipObserver(self.topo, history) if vip and self.topo.vips else None
        self.converge_s = converge_s
        self.drain_s = drain_s
        self.start_t: float | None = None
        self.end_t: float | None = None
        self.final: dict = {}
        self.convergence: dict = {}
        self.marks: dict[str, float] = {}

    # -- phases ------------------------------------------------------------------------------
    def __enter__(self):
        self.start_t = self.h.now()
        self.phase("start")
        for part in (self.vip, self.prober, self.sessions, self.workload):
            if part:
                part.start()
        return self

    def phase(self, name: str) -> None:
        self.marks[name] = self.h.now()
        self.h.invoke("harness-phase", "phase", {"name": name})
        self.h.ok("harness-phase", "phase", {"name": name})

    def steady(self, seconds: float) -> None:
        self.progress.status(f"steady workload for {seconds:.0f} s")
        time.sleep(seconds)

    wait = steady

    @contextmanager
    def fault(self, fault: str, target: str, **params):
        with self.nemesis.fault(fault, target, **params) as fid:
            yield fid

    def apply(self, fault: str, target: str, **params) -> str:
        return self.nemesis.apply(fault, target, **params)

    def heal(self, fid: str) -> None:
        self.nemesis.heal(fid)

    def __exit__(self, exc_type, exc, tb):
        errors = []
        try:
            if self.workload:
                self.workload.stop()
            try:
                self.nemesis.heal_all()
            except Exception as e:
                errors.append(e)
            if exc_type is None and not errors:
                self.phase("recovery")
                self.drain_queues()
                self.convergence = observers.wait_converged(self.topo, self.h, after="end", deadline_s=self.converge_s,
                                                            progress=self.progress)
                self.phase("final")
                self.final = observers.final_reads(self.topo, self.h)
                self.check_nodes()
        finally:
            for part in (self.sessions, self.prober, self.vip):
                if part:
                    part.stop()
            self.end_t = self.h.now()
            self.progress.end()
        if errors and exc_type is None:
            raise errors[0]
        return False

    @property
    def window(self) -> tuple[float, float]:
        return (self.start_t or 0.0, self.end_t if self.end_t is not None else self.h.now())

    # -- recovery helpers ------------------------------------------------------------------------
    def check_nodes(self, timeout: float = 10.0) -> None:
        """After the scenario every node must answer again; a node that does not is a finding of
        this scenario, and the next test gets a fresh cluster instead of inheriting the damage."""
        from .readiness import imap

        dead = {}
        for n in self.topo.data_nodes():
            t0 = time.monotonic()
            while True:
                try:
                    imap(n.lan, 143, timeout=2)
                    break
                except (OSError, ConnectionError) as e:
                    if time.monotonic() - t0 > timeout:
                        dead[n.name] = str(e)[:120]
                        break
                    time.sleep(0.5)
        self.h.invoke("harness-health", "node-health", {"nodes": self.topo.node_names})
        if dead:
            self.cluster.dirty = True
            self.h.fail("harness-health", "node-health", {"dead": dead}, error=f"not answering: {sorted(dead)}")
            raise AssertionError(f"after the scenario these servers no longer answer IMAP: {dead} "
                                 f"(the next test gets a fresh cluster)")
        self.h.ok("harness-health", "node-health", {"dead": {}})

    def drain_queues(self) -> None:
        """Wait until no node's MTA queue holds mail (deferred mail is delivered, not lost)."""
        t0 = time.monotonic()
        self.h.invoke("harness-queue", "queue-drain", {})
        left = {}
        while time.monotonic() - t0 < self.drain_s:
            left = {}
            for node in self.topo.node_names:
                r = docker.exec_(self.topo.container(node), "postqueue -j 2>/dev/null | wc -l", timeout=10)
                n = int(r.out.strip() or 0) if r.ok else 0
                if n:
                    left[node] = n
            if not left:
                self.h.ok("harness-queue", "queue-drain", {"seconds": round(time.monotonic() - t0, 2)})
                return
            # no 'postqueue -f': how soon deferred mail goes out is the cluster's own behaviour
            self.progress.status(f"waiting for mail queues to drain: {left}")
            time.sleep(1.0)
        self.h.fail("harness-queue", "queue-drain", {"left": left}, error=f"queues not empty after {self.drain_s:.0f} s")
