"""Cluster lifecycle: bring a design up with Docker Compose, wait for it, take it down, sweep.

Every container, network and volume gets ``io.mailha.run=<run id>`` (plus owner, design and
run directory labels), injected into the resolved compose configuration so that services a
user's override adds are labelled too. Teardown and the sweeper select by that label only.

Owners: a pytest or chaos process labels its clusters ``<host>:<pid>:<start>``; a later run
sweeps clusters whose owner process is gone (killed runs). ``mailha up`` labels its cluster
``cli``; only ``mailha down`` or ``mailha sweep`` remove those.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import time
from pathlib import Path

import yaml

from . import designs, docker, images, readiness
from .docker import LABEL_DESIGN, LABEL_DIR, LABEL_OWNER, LABEL_RUN
from .errors import HostError, UserError
from .progress import Progress
from .store import new_run_id
from .wait import describe


# -- owners -------------------------------------------------------------------------------
def _proc_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def _pidns() -> str:
    """This process's PID namespace: pids of other namespaces (other sandboxes sharing the Docker
    engine, containers) mean nothing here, so their runs must not be judged dead by us."""
    try:
        return os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")
    except (OSError, IndexError):
        return "0"


def owner_label(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}/{_pidns()}:{pid}:{_proc_start(pid)}"


def owner_alive(owner: str) -> bool:
    """A process owner is alive if it is on this host with the same pid and start time."""
    if owner == "cli":
        return True
    try:
        host, pid, start = owner.rsplit(":", 2)
        pid = int(pid)
    except ValueError:
        return False
    me = socket.gethostname()
    if host != (f"{me}/{_pidns()}" if "/" in host else me):
        return True  # another host's (or PID namespace's) run: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _proc_start(pid) == start


# -- compose helpers ------------------------------------------------------------------------
def _compose(project: str, files: list[Path], args: list[str], *, env: dict | None = None,
             timeout: float = 300, check: bool = True) -> docker.Result:
    argv = ["-p", project]
    for f in files:
        argv += ["-f", str(f)]
    return docker.compose(argv + args, check=check, timeout=timeout, env=env)


def _explain_compose_error(text: str, files: list[Path]) -> str:
    t = text.strip()
    if m := re.search(r"(?:Bind for |listen tcp4? )?([0-9.]*:\d+)(?: failed)?: (?:port is already allocated|address already in use)", t):
        return f"port {m.group(1)} is already in use on this host; free it or change the published port in your override file."
    if "Pool overlaps" in t or "overlaps with other one" in t:
        return ("a network of this design overlaps an existing Docker network (is another run of this design up? "
                "see 'mailha status'; 'mailha sweep' removes leftover runs).")
    if "No such image" in t or "pull access denied" in t or "not found: manifest unknown" in t:
        return f"an image of this design is missing ({t.splitlines()[-1][:160]}); run 'mailha images build'."
    last = t.splitlines()[-1] if t else "no output"
    return f"docker compose failed: {last[:300]}"


class Cluster:
    """One running (or to-be-run) instance of a design."""

    def __init__(self, design: str, *, overrides: list[str | Path] = (), run_dir: Path | None = None,
                 owner: str | None = None, run_id: str | None = None, progress: Progress | None = None):
        self.design = designs.canonical(design)
        self.base_file = designs.compose_file(self.design)
        self.overrides = [self._check_override(o) for o in overrides]
        self.files = [self.base_file, *self.overrides]
        self.run_id = run_id or new_run_id(self.design)
        self.project = f"mailha-{self.run_id}"
        self.owner = owner or owner_label()
        self.progress = progress or Progress()
        from .store import REPORTS
        self.dir = Path(run_dir) if run_dir else REPORTS / self.run_id
        self.cluster_dir = self.dir / "clusters" / self.run_id
        self.meta: dict = designs.read_x_mailha(self.files)
        self.config: dict = {}
        self.resolved: Path | None = None
        self.started = False
        self.timings: dict[str, float] = {}

    # -- input checks ---------------------------------------------------------------------
    @staticmethod
    def _check_override(o) -> Path:
        p = Path(o)
        if not p.exists():
            # overrides may be named relative to compose/overrides/
            alt = designs.COMPOSE_DIR / "overrides" / str(o)
            if alt.exists():
                return alt.resolve()
            alt2 = alt.with_suffix(".yml")
            if alt2.exists():
                return alt2.resolve()
            raise UserError(f"override file {o} does not exist.")
        return p.resolve()

    def compose_env(self) -> dict:
        env = dict(os.environ)
        env.update(images.env_for_compose(self.meta.get("roles") or images.known_roles()))
        env["MAILHA_RUN_ID"] = self.run_id
        return env

    def resolve_config(self) -> dict:
        """Validate the files with ``docker compose config`` and inject our labels."""
        # every profile: services kept for runtime (``profiles: [scale]``) must be in the resolved
        # file, labelled, so start_service can start them; ``up`` still skips them (they keep
        # their ``profiles`` key)
        r = _compose(self.project, self.files, ["config"], env={**self.compose_env(), "COMPOSE_PROFILES": "*"},
                     check=False, timeout=60)
        if not r.ok:
            msg = (r.err or r.out).strip().splitlines()
            raise UserError(f"the compose configuration ({', '.join(f.name for f in self.files)}) is not valid: "
                            f"{msg[-1] if msg else 'docker compose config failed'}")
        cfg = yaml.safe_load(r.out) or {}
        labels = {LABEL_RUN: self.run_id, LABEL_OWNER: self.owner, LABEL_DESIGN: self.design,
                  LABEL_DIR: str(self.dir.resolve())}
        for svc in (cfg.get("services") or {}).values():
            lab = svc.get("labels") or {}
            if isinstance(lab, list):
                lab = dict(x.split("=", 1) for x in lab)
            lab.update(labels)
            svc["labels"] = lab
        for kind in ("networks", "volumes"):
            for obj in (cfg.get(kind) or {}).values():
                if obj is None or obj.get("external"):
                    continue
                lab = obj.get("labels") or {}
                lab.update(labels)
                obj["labels"] = lab
        cfg["x-mailha"] = self.meta
        self.config = cfg
        return cfg

    def _check_ports(self) -> None:
        for name, svc in (self.config.get("services") or {}).items():
            for p in svc.get("ports") or []:
                if not isinstance(p, dict) or not p.get("published"):
                    continue
                host_ip = p.get("host_ip") or "0.0.0.0"
                port = int(str(p["published"]).split("-")[0])
                s = socket.socket()
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host_ip, port))
                except OSError:
                    raise UserError(f"port {host_ip}:{port} (service {name}) is already in use on this host; "
                                    f"free it or change the published port in your override file.")
                finally:
                    s.close()

    def _check_subnets(self) -> None:
        wanted = []
        for name, net in (self.config.get("networks") or {}).items():
            for c in ((net or {}).get("ipam") or {}).get("config") or []:
                if c.get("subnet"):
                    wanted.append((name, ipaddress.ip_network(c["subnet"], strict=False)))
        if not wanted:
            return
        for net in docker.networks():
            for c in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    have = ipaddress.ip_network(c.get("Subnet"), strict=False)
                except (TypeError, ValueError):
                    continue
                for name, want in wanted:
                    if have.overlaps(want):
                        who = (net.get("Labels") or {}).get(LABEL_RUN)
                        hint = (f"it belongs to mailha run {who} ('mailha down {who}' or 'mailha sweep' removes it)"
                                if who else "it is not a mailha network; change the subnet in an override file")
                        raise UserError(f"network {name!r} ({want}) overlaps Docker network {net.get('Name')!r} ({have}); {hint}.")

    # -- lifecycle ------------------------------------------------------------------------
    def up(self, timeout: float = 240) -> "Cluster":
        docker.require_engine()
        need = self.meta.get("roles") or []
        miss = images.missing(need)
        if miss:
            images.build(miss, progress=self.progress)
        self.resolve_config()
        self._check_ports()
        self._check_subnets()
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        self.resolved = self.cluster_dir / "compose.yml"
        self.resolved.write_text(yaml.safe_dump(self.config, sort_keys=False))
        (self.cluster_dir / "images.json").write_text(json.dumps(
            {s: {"image": v.get("image"), "id": images.image_id(v.get("image") or "")}
             for s, v in (self.config.get("services") or {}).items()}, indent=2))
        t0 = time.monotonic()
        self.progress.step(f"bringing up {self.design} as {self.project}")
        self.started = True  # from here on, down() must clean up even if up fails
        try:
            r = _compose(self.project, [self.resolved], ["up", "-d", "--no-build", "--pull", "never", "--remove-orphans"],
                         env=self.compose_env(), check=False, timeout=timeout)
        except BaseException:  # interrupted (Ctrl-C) or timed out while the engine made containers
            self.down(save_logs=False, quiet=True)
            raise
        if not r.ok:
            msg = _explain_compose_error(r.err or r.out, self.files)
            self.down(save_logs=True, quiet=True)
            raise (UserError if "in use" in msg or "overlaps" in msg else HostError)(msg)
        self.timings["compose_up"] = time.monotonic() - t0
        try:
            self.wait_ready(deadline=t0 + timeout)
        except BaseException:
            self.down(save_logs=True, quiet=True)
            raise
        self.timings["ready"] = time.monotonic() - t0
        self.progress.done(f"{self.design} is up and answering ({self.timings['ready']:.1f} s)")
        self.record_versions()
        return self

    def wait_ready(self, deadline: float, services: list[str] | None = None) -> None:
        """Wait for the design's readiness checks (``designs.ready_checks``; only those of
        ``services`` if given). A check that never passes raises ``HostError`` with one sentence
        naming the service (or virtual IP) and the check, and why where it can be seen
        (``diagnose``)."""
        for spec in designs.ready_checks(self.meta, services):
            svc = spec.get("service")
            container = self.container(svc) if svc else None
            what = readiness.describe(spec)
            t = time.monotonic()

            def on_wait(err, what=what, t=t):
                self.progress.status(f"waiting for {what} ({time.monotonic() - t:.1f} s): {describe(err)[:80]}")
            try:
                answer = readiness.wait(spec, container, deadline, on_wait)
            except TimeoutError as e:  # ContainerGone too: the container stopped while awaited
                raise HostError(readiness.never_answered(
                    spec, getattr(e, "seconds", time.monotonic() - t), describe(getattr(e, "last", e)),
                    vips=self.meta.get("vips") or [], diagnosis=self.diagnose(spec))) from None
            self.progress.status(f"{what}: {answer}")

    def diagnose(self, spec: dict) -> str:
        """Why ``spec`` never answered, as far as it can be seen cheaply ("" when nothing is
        known): for a service, its container's state and last log line; for a virtual IP, which
        node's keepalived claims it and who holds the address (``readiness.vip_diagnosis``)."""
        try:
            if spec.get("service"):
                return self._service_diagnosis(spec["service"])
            if spec.get("host") in (self.meta.get("vips") or []):
                return self._vip_diagnosis(spec["host"])
        except Exception as e:  # a diagnosis must never hide the failure it explains
            return f"no diagnosis ({type(e).__name__}: {str(e)[:80]})"
        return ""

    def _service_diagnosis(self, service: str) -> str:
        name = self.containers().get(service)
        if not name:
            return "it has no container"
        info = docker.inspect(name, "container")
        st = (info[0].get("State") or {}) if info else {}
        lines = self.log_tail(name, n=1)
        return readiness.container_diagnosis(st.get("Status", "removed"), st.get("ExitCode"), lines)

    def _vip_diagnosis(self, vip: str) -> str:
        probe = ("ip -o -4 addr show; cat /etc/keepalived/keepalived.conf /run/lb/keepalived.conf 2>/dev/null; "
                 "[ -f /run/lb/vrrp-state ] && echo \"vrrp-state: $(cat /run/lb/vrrp-state)\"; true")
        nodes: dict[str, dict | None] = {}
        for svc, name in sorted(self.containers().items()):
            r = docker.exec_(name, probe, timeout=10)
            if not r.ok:
                nodes[svc] = None
                continue
            logs = docker.logs(name, tail=3000, timeout=15)  # Dovecot's info lines share this log
            facts = readiness.keepalived_facts(r.out + "\n" + logs)
            if vip in facts["addrs"] or any(vip in ips for ips in facts["instances"].values()):
                nodes[svc] = facts
        configured = {n: f for n, f in nodes.items() if f}
        if not configured:
            return "no container of the run has a keepalived instance for it or holds it"
        return readiness.vip_diagnosis(vip, {**configured, **{n: None for n, f in nodes.items() if f is None}})

    def keep_logs(self, service: str) -> Path | None:
        """Save the log of a service's container before it is removed or recreated, as
        ``<service>.<n>.log`` beside the logs saved at teardown (``<service>.log`` is the last
        container's): a container's log goes with it, and the evidence of what it did before a
        wipe or a recreate must not. None when it has no container now."""
        name = self.containers().get(service)
        if not name:
            return None
        dest = self.cluster_dir / "logs"
        dest.mkdir(parents=True, exist_ok=True)
        n = 1
        while (dest / f"{service}.{n}.log").exists():
            n += 1
        path = dest / f"{service}.{n}.log"
        try:
            path.write_text(docker.logs(name, timestamps=True, timeout=60))
        except Exception as e:  # the removal goes on; the gap is said where the log would be
            path.write_text(f"mailha: the log of {name} could not be read before it was removed: {e}\n")
        return path

    def recreate(self, service: str, timeout: float = 120) -> None:
        """Create a service's container again from the run's compose file (after a wipe)."""
        self.keep_logs(service)
        _compose(self.project, [self.resolved], ["up", "-d", "--no-deps", "--no-build", "--pull", "never",
                                                 "--force-recreate", service],
                 env=self.compose_env(), timeout=timeout)

    def start_service(self, service: str, checks: list[dict] | None = None, timeout: float = 120) -> float:
        """Start one more service of the running cluster (e.g. one kept in a compose profile for
        scale-out) without touching the others, and wait until it answers: ``checks`` (readiness
        specs as in ``x-mailha.ready``), else the service's own checks (``ready`` and ``ready_extra``,
        ``designs.ready_checks``). Seconds taken."""
        t0 = time.monotonic()
        if service not in (self.config.get("services") or {}):
            raise UserError(f"design {self.design} has no service {service!r} to start.")
        _compose(self.project, [self.resolved], ["up", "-d", "--no-deps", "--no-build", "--pull", "never", service],
                 env=self.compose_env(), timeout=timeout)
        deadline = t0 + timeout
        if checks is None:
            self.wait_ready(deadline=deadline, services=[service])
        else:
            for spec in checks:
                readiness.wait(spec, self.container(spec["service"]) if spec.get("service") else None, deadline)
        return time.monotonic() - t0

    def log_tail(self, container: str, n: int = 5) -> str:
        return " | ".join(docker.logs(container, tail=n).strip().splitlines()[-n:])[-400:]

    def containers(self) -> dict[str, str]:
        """service name -> container name, for this run."""
        return {c["service"]: c["name"] for c in docker.containers(f"{LABEL_RUN}={self.run_id}")}

    def container(self, service: str) -> str:
        name = self.containers().get(service)
        if not name:
            raise HostError(f"service {service!r} has no container in run {self.run_id}.")
        return name

    def exec(self, service: str, cmd, **kw) -> docker.Result:
        return docker.exec_(self.container(service), cmd, **kw)

    def endpoint(self, proto: str) -> tuple[str, int]:
        ep = (self.meta.get("endpoints") or {}).get(proto)
        if not ep:
            raise UserError(f"design {self.design} declares no {proto} endpoint in x-mailha.endpoints.")
        return ep["host"], int(ep["port"])

    def record_versions(self) -> None:
        """Package versions of the daemons in each running container (for the report)."""
        pkgs = "postfix dovecot-core keepalived slapd haproxy glusterfs-server nfs-ganesha rspamd clamav-daemon roundcube-core nginx-light"
        out = {}
        for svc, name in self.containers().items():
            r = docker.exec_(name, f"dpkg-query -W -f='${{Package}} ${{Version}}\\n' {pkgs} 2>/dev/null", timeout=20)
            out[svc] = dict(line.split(" ", 1) for line in r.out.splitlines() if " " in line)
        (self.cluster_dir / "versions.json").write_text(json.dumps(out, indent=2))

    def save_logs(self) -> None:
        save_run_logs(self.run_id, self.cluster_dir / "logs")

    def down(self, save_logs: bool = True, quiet: bool = False) -> None:
        if save_logs:
            try:
                self.save_logs()
            except Exception:
                pass  # logs are best effort; removal is not
        if not quiet:
            self.progress.step(f"taking down {self.project}")
        if self.resolved and self.resolved.exists():
            _compose(self.project, [self.resolved], ["down", "-v", "--remove-orphans", "-t", "2"],
                     check=False, timeout=120)
        remove_run(self.run_id)
        self.started = False


# -- runs by label ----------------------------------------------------------------------------
def save_run_logs(run_id: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for c in docker.containers(f"{LABEL_RUN}={run_id}"):
        (dest / f"{c['service'] or c['name']}.log").write_text(docker.logs(c["name"], timestamps=True, timeout=60))


def remove_run(run_id: str) -> dict:
    """Remove every container, network and volume labelled with this run id (one that the
    engine refuses to remove is left and not counted)."""
    label = f"{LABEL_RUN}={run_id}"
    removed = {"containers": 0, "networks": 0, "volumes": 0}
    for kind, key, rm in (("container", "containers", lambda c: docker.remove(c, volumes=True)),
                          ("network", "networks", docker.remove_network),
                          ("volume", "volumes", docker.remove_volume)):
        for obj in docker.ids(kind, label):
            try:
                rm(obj)
            except HostError:
                continue
            removed[key] += 1
    return removed


def runs() -> list[dict]:
    """Every mailha run that has objects on this engine, from their labels."""
    docker.require_engine()  # "no runs" from an engine that never answered would be a lie
    found: dict[str, dict] = {}
    for c in docker.containers(LABEL_RUN):
        rid = c["labels"].get(LABEL_RUN, "")
        found.setdefault(rid, {"run_id": rid, "containers": {}})["containers"][c["name"]] = c["state"]
    for kind in ("network", "volume"):
        for obj in docker.ids(kind, LABEL_RUN):
            info = docker.inspect(obj, kind)
            if info:
                rid = (info[0].get("Labels") or {}).get(LABEL_RUN)
                found.setdefault(rid, {"run_id": rid, "containers": {}}).setdefault(kind + "s", []).append(info[0].get("Name"))
    for rid, run in found.items():
        labels = {}
        for obj in list(run["containers"])[:1] + run.get("networks", [])[:1]:
            info = docker.inspect(obj)
            if info:
                labels = info[0].get("Labels") or info[0].get("Config", {}).get("Labels") or {}
                break
        run["owner"] = labels.get(LABEL_OWNER, "?")
        run["design"] = labels.get(LABEL_DESIGN, "?")
        run["dir"] = labels.get(LABEL_DIR)
        run["alive"] = owner_alive(run["owner"])
    return sorted(found.values(), key=lambda r: r["run_id"])


def sweep(all_runs: bool = False, only: str | None = None, progress: Progress | None = None) -> list[dict]:
    """Remove runs whose owner process is gone (or every run with ``all_runs``). Logs are saved first."""
    progress = progress or Progress()
    done = []
    for run in runs():
        if only and run["run_id"] != only:
            continue
        if not (all_runs or only) and run["alive"]:
            continue
        if run.get("dir") and Path(run["dir"]).exists():
            try:
                save_run_logs(run["run_id"], Path(run["dir"]) / "clusters" / run["run_id"] / "logs")
            except Exception:
                pass
        removed = remove_run(run["run_id"])
        progress.done(f"swept run {run['run_id']} ({run['design']}, owner {run['owner']}): "
                      f"{removed['containers']} containers, {removed['networks']} networks, {removed['volumes']} volumes")
        done.append({**run, "removed": removed})
    return done
