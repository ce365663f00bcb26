"""What this host can do, and therefore which backends mailha uses.

The kernel decides several backends: without ip_vs there is no LVS (HAProxy + keepalived
VRRP instead), without an NFS client the NAS is mounted over FUSE (GlusterFS) instead of
NFS, without netem link faults go through Toxiproxy. Nothing is faked: the report names
what ran. Facts come from /proc/config.gz when the kernel exposes it, else from probes.
"""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import docker


def _kernel_config() -> dict[str, str]:
    p = Path("/proc/config.gz")
    if not p.exists():
        return {}
    cfg = {}
    try:
        for line in gzip.open(p, "rt"):
            if line.startswith("CONFIG_"):
                k, _, v = line.strip().partition("=")
                cfg[k] = v
            elif line.startswith("# CONFIG_") and line.rstrip().endswith("is not set"):
                cfg[line.split()[1]] = "n"
    except OSError:
        return {}
    return cfg


def _filesystems() -> set[str]:
    try:
        return {line.split()[-1] for line in Path("/proc/filesystems").read_text().splitlines() if line.strip()}
    except OSError:
        return set()


def _netem_probe() -> bool | None:
    """Try a netem qdisc in a throwaway network namespace (None when we cannot try)."""
    if not (shutil.which("unshare") and shutil.which("tc")) or os.geteuid() != 0:
        return None
    try:
        r = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && tc qdisc add dev lo root netem delay 1ms"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.returncode == 0


@dataclass
class Facts:
    engine: str | None = None
    compose: str | None = None
    can_pull: bool | None = None
    pull_error: str | None = None
    kernel: str = ""
    features: dict[str, bool | None] = field(default_factory=dict)
    backends: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"engine": self.engine, "compose": self.compose, "can_pull": self.can_pull,
                "kernel": self.kernel, "features": self.features, "backends": self.backends,
                "problems": self.problems}


def gather(try_pull: bool = True) -> Facts:
    f = Facts(kernel=os.uname().release)
    f.engine = docker.ping()
    if not f.engine:
        f.problems.append("the Docker daemon is not reachable; run 'make setup' or start dockerd.")
    f.compose = docker.compose_version()
    if not f.compose:
        f.problems.append("'docker compose' (Compose v2) is missing; run 'make setup'.")
    if f.engine and try_pull:
        r = docker.pull("debian:bookworm-slim", timeout=60)
        f.can_pull = r.ok
        f.pull_error = None if r.ok else (r.err.strip().splitlines() or ["?"])[-1][:160]

    cfg = _kernel_config()
    fs = _filesystems()

    def kcfg(*names):
        vals = [cfg.get(n) for n in names]
        if any(v in ("y", "m") for v in vals):
            return True
        return False if cfg else None

    feats = {
        "ip_vs": Path("/proc/net/ip_vs").exists() or bool(kcfg("CONFIG_IP_VS")),
        "nfs_client": ("nfs" in fs or "nfs4" in fs) or bool(kcfg("CONFIG_NFS_FS")),
        # /proc/fs/nfsd can exist as an empty directory without nfsd: trust the config first
        "nfs_server": bool(kcfg("CONFIG_NFSD")) if cfg else "nfsd" in fs,
        "fuse": "fuse" in fs and Path("/dev/fuse").exists(),
        "netem": kcfg("CONFIG_NET_SCH_NETEM"),
        "freezer": Path("/sys/fs/cgroup/freezer").exists() or Path("/sys/fs/cgroup/cgroup.freeze").exists()
                   or bool(kcfg("CONFIG_CGROUP_FREEZER")),
        "iptables_in_containers": bool(kcfg("CONFIG_IP_NF_IPTABLES", "CONFIG_NF_TABLES")) if cfg else None,
    }
    if feats["netem"] is None:
        feats["netem"] = _netem_probe()
    f.features = feats

    f.backends = {
        "load_balancer": ({"use": "lvs", "why": "the kernel has ip_vs"} if feats["ip_vs"] else
                          {"use": "haproxy", "why": "no ip_vs in this kernel: HAProxy balances, keepalived holds its VIP (VRRP only)"}),
        "nas": ({"use": "nfs", "why": "the kernel has an NFS client: nfs-ganesha exports, nodes mount NFS"} if feats["nfs_client"] else
                {"use": "glusterfs-fuse", "why": "no NFS client in this kernel: GlusterFS exports, nodes mount it over FUSE"}
                if feats["fuse"] else {"use": None, "why": "neither an NFS client nor FUSE: the shared-storage designs cannot run"}),
        "link_faults": ({"use": "netem", "why": "the kernel has netem"} if feats["netem"] else
                        {"use": "toxiproxy", "why": "no netem in this kernel: latency, bandwidth and stalls through Toxiproxy"}),
        "partitions": {"use": "iptables", "why": "black holes with iptables DROP in each node's network namespace, run from the host (nsenter)"},
        "pause": ({"use": "docker pause", "why": "cgroup freezer present"} if feats["freezer"] else
                  {"use": None, "why": "no cgroup freezer: pause faults are unavailable"}),
    }
    if f.backends["nas"]["use"] is None:
        f.problems.append("neither an NFS client nor FUSE (/dev/fuse) is available; the shared-storage and high-end designs cannot run.")
    return f


def render(f: Facts) -> str:
    yes = lambda v: "yes" if v else ("no" if v is False else "unknown")
    lines = [
        f"Docker engine    {f.engine or 'NOT REACHABLE'}",
        f"Compose v2       {f.compose or 'MISSING'}",
        f"Image pulls      {yes(f.can_pull) if f.can_pull is not None else 'not tried'}"
        + (f" ({f.pull_error}); images are built locally from a debootstrap base" if f.can_pull is False else ""),
        f"Kernel           {f.kernel}",
        "Kernel features  " + ", ".join(f"{k}={yes(v)}" for k, v in f.features.items()),
        "Backends:",
    ]
    for k, b in f.backends.items():
        lines.append(f"  {k:14s} {b['use'] or 'UNAVAILABLE'}: {b['why']}")
    lines.append("Verdict          " + ("this host can run the designs" if f.ok else "cannot run: " + " ".join(f.problems)))
    return "\n".join(lines)
