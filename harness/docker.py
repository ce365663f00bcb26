"""Thin wrapper over the ``docker`` CLI (and ``docker compose``).

The CLI, not the Python SDK: it is what users type, it negotiates API versions with old
engines (Debian's 20.10) by itself, and its errors are readable when we pass them on.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from .errors import HostError

LABEL_RUN = "io.mailha.run"        # every container, network and volume carries it
LABEL_OWNER = "io.mailha.owner"    # "<host>:<pid>" of a pytest/chaos process, or "cli"
LABEL_DIR = "io.mailha.dir"        # the run directory (for `mailha down` to save logs)
LABEL_DESIGN = "io.mailha.design"
LABEL_IMAGE = "io.mailha.image"    # on images we build: the role


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


def docker_bin() -> str:
    path = shutil.which("docker")
    if not path:
        raise HostError("the docker command is not installed; run 'make setup' (or install Docker Engine with the Compose v2 plugin).")
    return path


def run(args: list[str], *, check: bool = True, timeout: float | None = 120, input: str | None = None,
        env: dict | None = None) -> Result:
    """Run ``docker ARGS``; with ``check`` a non-zero exit raises HostError with docker's message."""
    try:
        p = subprocess.run([docker_bin(), *args], capture_output=True, text=True, timeout=timeout,
                           input=input, env=env)
    except subprocess.TimeoutExpired as e:
        raise HostError(f"'docker {' '.join(args[:3])}' did not finish within {timeout:.0f} s.") from e
    res = Result(p.returncode, p.stdout, p.stderr)
    if check and not res.ok:
        msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise HostError(f"'docker {' '.join(args[:3])}' failed: {msg[-1] if msg else 'exit ' + str(p.returncode)}")
    return res


def ping(timeout: float = 15) -> str | None:
    """The engine's version, or None when no engine answers."""
    try:
        r = run(["version", "--format", "{{.Server.Version}}"], check=False, timeout=timeout)
    except HostError:
        return None
    return r.out.strip() if r.ok and r.out.strip() else None


def require_engine() -> str:
    version = ping()
    if not version:
        raise HostError("the Docker daemon is not reachable ('docker version' failed); run 'make setup' to start it, or start dockerd yourself.")
    return version


def compose_version() -> str | None:
    try:
        r = run(["compose", "version", "--short"], check=False, timeout=15)
    except HostError:
        return None
    return r.out.strip() if r.ok else None


def ids(kind: str, label: str) -> list[str]:
    """IDs (containers) or names (networks, volumes) of objects carrying ``label``."""
    if kind == "container":
        r = run(["ps", "-aq", "--filter", f"label={label}"], check=False)
    elif kind == "network":
        r = run(["network", "ls", "-q", "--filter", f"label={label}"], check=False)
    elif kind == "volume":
        r = run(["volume", "ls", "-q", "--filter", f"label={label}"], check=False)
    else:
        raise ValueError(kind)
    return [x for x in r.out.split() if x]


def inspect(obj: str | list[str], kind: str | None = None) -> list[dict]:
    objs = [obj] if isinstance(obj, str) else list(obj)
    args = [kind, "inspect", *objs] if kind else ["inspect", *objs]
    r = run(args, check=False)
    if not r.ok:
        return []
    return json.loads(r.out)


def exec_(container: str, cmd: list[str] | str, *, timeout: float = 30, check: bool = False,
          user: str | None = None, detach: bool = False) -> Result:
    """``docker exec``; a string command runs under ``sh -c``."""
    argv = ["exec"]
    if user:
        argv += ["-u", user]
    if detach:
        argv.append("-d")
    argv.append(container)
    argv += ["sh", "-c", cmd] if isinstance(cmd, str) else cmd
    return run(argv, check=check, timeout=timeout)
