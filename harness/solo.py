"""One role image started alone, for its smoke test: ``with solo("ldap") as c: c.ip``.

The container and its network carry the run label and this process as owner, so they are
removed on exit, on Ctrl-C, and by the next run's sweep if this process is killed.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from . import docker, images
from .cluster import owner_label, remove_run
from .docker import LABEL_DESIGN, LABEL_OWNER, LABEL_RUN
from .store import new_run_id
from .wait import until


@dataclass
class Solo:
    run_id: str
    name: str
    ip: str
    network: str
    role: str

    def exec(self, cmd, **kw) -> docker.Result:
        return docker.exec_(self.name, cmd, **kw)

    def logs(self) -> str:
        r = docker.run(["logs", self.name], check=False)
        return r.out + r.err

    def sidecar(self, name: str, role: str | None = None, *, cap_add=(), devices=(), env: dict | None = None,
                command=("sleep", "infinity")) -> str:
        """Another container (``role``'s image, default this one's) on this solo's network.

        It carries the solo's run label, so the solo's teardown (or a later sweep) removes it.
        Returns the container name. ``command=()`` runs the image's own entrypoint.
        """
        role = role or self.role
        cname = f"{self.name}-{name}"
        argv = ["run", "-d", "--name", cname, "--hostname", name, "--network", self.network,
                *_labels(self.run_id, role)]
        argv += _options(env=env, cap_add=cap_add, devices=devices)
        docker.run([*argv, images.resolve(role), *command])
        return cname


def ip_of(container: str) -> str:
    """A container's address on its (single) network; "" while it has none."""
    return docker.run(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                       container], check=False).out.strip()


def sh(container: str, cmd: str, timeout: float = 60) -> docker.Result:
    """``bash -c CMD`` inside a container, without raising on a non-zero exit."""
    return docker.exec_(container, ["bash", "-c", cmd], timeout=timeout)


def _labels(run_id: str, role: str) -> list[str]:
    return ["--label", f"{LABEL_RUN}={run_id}", "--label", f"{LABEL_OWNER}={owner_label()}",
            "--label", f"{LABEL_DESIGN}=solo-{role}"]


def _options(*, env=None, cap_add=(), devices=(), volumes=(), tmpfs=()) -> list[str]:
    argv: list[str] = []
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
    return argv


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
    labels = _labels(run_id, role)
    net = f"mailha-{run_id}"
    name = f"mailha-{run_id}-{role}"
    try:
        docker.run(["network", "create", *labels, *(["--subnet", subnet] if subnet else []), net])
        argv = ["run", "-d", "--name", name, "--hostname", role, "--network", net, *labels]
        if ip:
            argv += ["--ip", ip]
        argv += _options(env=env, cap_add=cap_add, devices=devices, volumes=volumes, tmpfs=tmpfs)
        argv += [*args, ref, *command]
        docker.run(argv)
        ip = until(lambda: ip_of(name), timeout=5, interval=0.1, what=f"the {role} container to get an IP address",
                   container=name)
        yield Solo(run_id, name, ip, net, role)
    finally:
        remove_run(run_id)
