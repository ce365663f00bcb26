"""One role image started alone, for its smoke test: ``with solo("ldap") as c: c.ip``.

The container and its network carry the run label and this process as owner, so they are
removed on exit, on Ctrl-C, and by the next run's sweep if this process is killed.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

from . import docker, images
from .cluster import owner_label, remove_run
from .docker import LABEL_DESIGN, LABEL_OWNER, LABEL_RUN
from .errors import HostError
from .store import new_run_id


@dataclass
class Solo:
    run_id: str
    name: str
    ip: str
    network: str

    def exec(self, cmd, **kw) -> docker.Result:
        return docker.exec_(self.name, cmd, **kw)

    def logs(self) -> str:
        r = docker.run(["logs", self.name], check=False)
        return r.out + r.err


@contextmanager
def solo(role: str, *, env: dict | None = None, cap_add: list[str] = (), devices: list[str] = (),
         args: list[str] = (), command: list[str] = (), volumes: list[str] = (), tmpfs: list[str] = (),
         subnet: str | None = None, ip: str | None = None):
    """Start ``role``'s image alone on a fresh labelled network; yields a ``Solo``."""
    ref = images.resolve(role)
    if not ref:
        images.build([role])
        ref = images.resolve(role)
    run_id = new_run_id(f"solo-{role}")
    labels = ["--label", f"{LABEL_RUN}={run_id}", "--label", f"{LABEL_OWNER}={owner_label()}",
              "--label", f"{LABEL_DESIGN}=solo-{role}"]
    net = f"mailha-{run_id}"
    name = f"mailha-{run_id}-{role}"
    try:
        docker.run(["network", "create", *labels, *(["--subnet", subnet] if subnet else []), net])
        argv = ["run", "-d", "--name", name, "--hostname", role, "--network", net, *labels]
        if ip:
            argv += ["--ip", ip]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        for c in cap_add:
            argv += ["--cap-add", c]
        for d in devices:
            argv += ["--device", d]
        for v in volumes:
            argv += ["-v", v]
        for t in tmpfs:
            argv += ["--tmpfs", t]
        argv += [*args, ref, *command]
        docker.run(argv)
        ip = ""
        for _ in range(50):
            ip = docker.run(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
                            check=False).out.strip()
            if ip:
                break
            time.sleep(0.1)
        if not ip:
            raise HostError(f"the {role} container got no IP address.")
        yield Solo(run_id, name, ip, net)
    finally:
        remove_run(run_id)
