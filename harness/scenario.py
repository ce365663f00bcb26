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

from .engine_events import EngineEvents
from .faults import Nemesis
from . import docker, observers
from .history import History
from .probes import Prober, Sessions
from .progress import Progress
from .topology import Topology
from .wait import Not, WaitTimeout, describe, until
from .workload import Mix, Workload


#: lines of ``postqueue -j`` (one per queued message); fails when the queue cannot be read
QUEUE_COUNT = 'q=$(postqueue -j) || exit 1; if [ -z "$q" ]; then echo 0; else printf "%s\\n" "$q" | wc -l; fi'


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
        # node events with the engine's own timestamps (when a node really died, not when a poll noticed)
        self.engine = EngineEvents(history, cluster.run_id)
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
        for part in (self.engine, self.vip, self.prober, self.sessions, self.workload):
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

    def heal_together(self, fids: list[str]) -> None:
        self.nemesis.heal_together(fids)

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
            for part in (self.sessions, self.prober, self.vip, self.engine):
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
    def check_nodes(self, timeout: float = 20.0) -> None:
        """After the scenario every node must answer again — by the design's own readiness checks
        for its service (``x-mailha.ready``: the protocols it serves, an LDAP bind, a NAS probe…),
        not only an IMAP greeting. A node that does not is a finding of this scenario, and the next
        test gets a fresh cluster instead of inheriting the damage."""
        dead = {}
        deadline = time.monotonic() + timeout
        for n in self.topo.nodes.values():
            try:
                self.cluster.wait_ready(deadline=max(deadline, time.monotonic() + 2), services=[n.service])
            except Exception as e:  # HostError from readiness: the check that never answered, in one line
                dead[n.name] = str(e)[:200]
        self.h.invoke("harness-health", "node-health", {"nodes": self.topo.node_names})
        if dead:
            self.cluster.dirty = True
            self.h.fail("harness-health", "node-health", {"dead": dead}, error=f"not answering: {sorted(dead)}")
            raise AssertionError(f"after the scenario these servers no longer answer: {dead} "
                                 f"(the next test gets a fresh cluster)")
        self.h.ok("harness-health", "node-health", {"dead": {}})

    def drain_queues(self) -> None:
        """Wait until no MTA queue holds mail (deferred mail is delivered, not lost): every node that
        runs Postfix (``Topology.daemons_of``). A queue that cannot be read is not empty: the drain
        is then recorded as failed with the reason, never as drained."""
        t0 = time.monotonic()
        mtas = [n for n in self.topo.node_names if "postfix" in self.topo.daemons_of(n)]
        self.h.invoke("harness-queue", "queue-drain", {"nodes": mtas})

        def drained():
            left = {}
            for node in mtas:
                r = docker.exec_(self.topo.container(node), QUEUE_COUNT, timeout=10)
                if not r.ok:
                    left[node] = f"queue unreadable: {(r.err or r.out).strip()[-80:]}"
                elif int(r.out.strip() or 0):
                    left[node] = int(r.out.strip())
            return True if not left else Not(f"left {left}")

        try:
            # no 'postqueue -f': how soon deferred mail goes out is the cluster's own behaviour
            until(drained, timeout=self.drain_s, interval=1.0, what="mail queues to drain",
                  on_retry=lambda last: self.progress.status(f"waiting for mail queues to drain: {describe(last)}"))
        except WaitTimeout as e:
            self.h.fail("harness-queue", "queue-drain", {"left": describe(e.last)}, error=str(e)[:300])
            return
        self.h.ok("harness-queue", "queue-drain", {"seconds": round(time.monotonic() - t0, 2)})
