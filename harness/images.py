"""Role images: a Debian bookworm base, then one image per role, tagged by content hash.

``mailha/<role>:<hash>`` where the hash covers the role's build context, its parent
image's id and any extra inputs (the Toxiproxy binary). An unchanged image is never
rebuilt. ``MAILHA_IMAGE_<ROLE>`` (e.g. ``MAILHA_IMAGE_MAIL=registry/mymail:1.2``) swaps in
a user's image instead of building ours.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT, docker
from .errors import HostError, UserError
from .progress import Progress

BASE_TAG = "local/debian:bookworm"
CONTEXTS = ROOT / "compose" / "images"
CACHE = ROOT / ".cache"
TOXIPROXY_VERSION = os.environ.get("MAILHA_TOXIPROXY_VERSION", "v2.12.0")


@dataclass(frozen=True)
class Role:
    name: str
    what: str
    parent: str = "base"                          # "base" or another role
    extra: tuple[tuple[str, str], ...] = field(default=())  # (source path, name in context)

    @property
    def context(self) -> Path:
        return CONTEXTS / self.name

    @property
    def env_var(self) -> str:
        return f"MAILHA_IMAGE_{self.name.upper()}"


ROLES: dict[str, Role] = {r.name: r for r in [
    Role("webmail", "Roundcube 1.6 + nginx + php-fpm 8.2"),
    Role("mail", "Postfix 3.7 + Dovecot 2.3 (imap, pop3, lmtp, replicator, ldap, proxy) + keepalived; "
                 "built on the webmail image so a mirror node can serve webmail itself", parent="webmail"),
    Role("ldap", "OpenLDAP slapd 2.5 seeded with the test users"),
    Role("lb", "HAProxy 2.6 + keepalived (VRRP only; LVS where the kernel has ip_vs)"),
    Role("nas", "GlusterFS 10 server (clients mount it over FUSE) and nfs-ganesha 4 (NFS backend)"),
    Role("ecm", "Postfix relay + rspamd 3.4 milter + clamd 1.4 with a local test-signature database"),
    Role("toxiproxy", f"Toxiproxy server {TOXIPROXY_VERSION} built from its Go module",
         extra=((f".cache/bin/toxiproxy-server-{TOXIPROXY_VERSION}", "toxiproxy-server"),)),
]}


def known_roles() -> list[str]:
    return list(ROLES)


def _check_roles(names: list[str]) -> list[Role]:
    bad = [n for n in names if n not in ROLES]
    if bad:
        raise UserError(f"unknown role {bad[0]!r}; the roles are: {', '.join(ROLES)}.")
    return [ROLES[n] for n in names]


def image_id(ref: str) -> str | None:
    return docker.image_id(ref)


# -- the base image ---------------------------------------------------------------------
def ensure_base(progress: Progress) -> str:
    """The base image id: present, pulled, or made with debootstrap + docker import."""
    have = image_id(BASE_TAG)
    if have:
        return have
    progress.step(f"base image {BASE_TAG}: trying docker pull debian:bookworm-slim")
    pulled = docker.pull("debian:bookworm-slim", timeout=180)
    if pulled.ok:
        docker.tag("debian:bookworm-slim", BASE_TAG)
        return image_id(BASE_TAG)
    progress.note("no registry answers; building the base with debootstrap (about 40 s)")
    if not shutil.which("debootstrap"):
        raise HostError("no registry answers and debootstrap is not installed; run 'make setup' (or apt-get install debootstrap).")
    if os.geteuid() != 0:
        raise HostError("debootstrap needs root to build the base image; run 'mailha images build' as root once.")
    CACHE.mkdir(exist_ok=True)
    log = CACHE / "debootstrap.log"
    with tempfile.TemporaryDirectory(prefix="mailha-rootfs-") as tmp:
        t = time.monotonic()
        with open(log, "w") as fh:
            p = subprocess.Popen(["debootstrap", "--variant=minbase", "bookworm", tmp, "http://deb.debian.org/debian"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in p.stdout:
                fh.write(line)
                if line.startswith("I: "):
                    progress.status(f"debootstrap: {line[3:].strip()[:70]}")
            rc = p.wait()
        if rc != 0:
            raise HostError(f"debootstrap of bookworm failed (exit {rc}); see {log}.")
        progress.status("docker import of the base rootfs")
        tar = subprocess.Popen(["tar", "-C", tmp, "-c", "."], stdout=subprocess.PIPE)
        try:  # streamed to the engine as tar writes it
            docker.import_image(iter(lambda: tar.stdout.read(1 << 20), b""), BASE_TAG, changes=['CMD ["bash"]'])
        except HostError as e:
            raise HostError(f"docker import of the debootstrap rootfs failed: {str(e)[-200:]}") from None
        finally:
            tar.stdout.close()
            tar.wait()
        progress.done(f"base image {BASE_TAG} built in {time.monotonic() - t:.0f} s")
    return image_id(BASE_TAG)


# -- role images --------------------------------------------------------------------------
def _extra_files(role: Role) -> list[tuple[Path, str]]:
    files = []
    for src, name in role.extra:
        p = ROOT / src
        if not p.exists():
            raise HostError(f"the {role.name} image needs {src}, which is missing; run 'make setup' to build it.")
        files.append((p, name))
    return files


def context_hash(role: Role, parent_id: str) -> str:
    h = hashlib.sha256()
    h.update(f"role={role.name}\nparent={parent_id}\n".encode())
    if not role.context.is_dir():
        raise HostError(f"the build context of role {role.name!r} ({role.context}) is missing.")
    for p in sorted(role.context.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            rel = p.relative_to(role.context).as_posix()
            h.update(f"file={rel} x={os.access(p, os.X_OK)}\n".encode())
            h.update(p.read_bytes())
    for p, name in _extra_files(role):
        h.update(f"extra={name}\n".encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def tag_for(role: Role, parent_id: str) -> str:
    return f"mailha/{role.name}:{context_hash(role, parent_id)}"


def resolve(role_name: str) -> str | None:
    """The image reference compose should use for a role, without building anything.

    The user's ``MAILHA_IMAGE_<ROLE>`` if set; else our hash tag if that image exists; else None.
    """
    role = ROLES[role_name]
    if os.environ.get(role.env_var):
        return os.environ[role.env_var]
    parent_id = _parent_id(role)
    if not parent_id:
        return None
    tag = tag_for(role, parent_id)
    return tag if image_id(tag) else None


def _parent_id(role: Role) -> str | None:
    if role.parent == "base":
        return image_id(BASE_TAG)
    ref = resolve(role.parent)
    return image_id(ref) if ref else None


STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build_text(msg: dict) -> str:
    """What the CLI prints for one decoded message of the engine's build stream: ``stream`` text
    as it comes (``Step 1/9 : FROM …`` and its newline may come apart), a ``status`` or an
    ``error`` (why a step failed) as a line; nothing for ``aux`` (the image id)."""
    if msg.get("error"):
        return str(msg["error"]).strip() + "\n"
    if msg.get("stream"):
        return str(msg["stream"])
    return f"{msg['status']}\n" if msg.get("status") else ""


def _build(role: Role, tag: str, parent_ref: str, progress: Progress, no_cache: bool = False) -> None:
    CACHE.mkdir(exist_ok=True)
    (CACHE / "build-logs").mkdir(exist_ok=True)
    log = CACHE / "build-logs" / f"{role.name}.log"
    with tempfile.TemporaryDirectory(prefix=f"mailha-ctx-{role.name}-") as tmp:
        ctx = Path(tmp) / "ctx"
        shutil.copytree(role.context, ctx)
        for p, name in _extra_files(role):
            shutil.copy2(p, ctx / name)
        # force-rm: a failed step must not leave its container behind (it carries no run label)
        step, last, error, pending = "starting", [], None, ""
        with open(log, "w") as fh:
            try:
                for msg in docker.build(str(ctx), [tag, f"mailha/{role.name}:latest"], buildargs={"BASE": parent_ref},
                                        labels={docker.LABEL_IMAGE: role.name}, no_cache=no_cache):
                    if msg.get("error"):
                        error = str(msg["error"])
                    *lines, pending = (pending + build_text(msg)).split("\n")
                    for line in lines:
                        fh.write(line + "\n")
                        last = (last + [line.rstrip()])[-8:]
                        m = STEP.match(line.strip())
                        if m:
                            step = f"step {m.group(1)}/{m.group(2)} ({m.group(3)[:60]})"
                            progress.status(f"{role.name}: {step}", force=True)
            except HostError as e:  # the engine refused the build or stopped answering
                error = str(e)
                pending += "\n" + error
            if pending.strip():
                fh.write(pending + "\n")
                last = (last + pending.strip().splitlines())[-8:]
    if error is not None:
        clean = [ANSI.sub("", x).strip() for x in last]
        # the lines that say why (apt's "E:", the builder's verdict), not the builder's chatter
        why = [x for x in clean if x and not x.startswith(("--->", "Step ", "Removing intermediate"))
               and not x.startswith(("Reading ", "Building ", "Running in"))]
        raise HostError(f"image build for role {role.name!r} failed at {step}: {' | '.join(why)[-300:]} (full log: {log}).")


def build(names: list[str] | None = None, *, force: bool = False, no_cache: bool = False,
          progress: Progress | None = None) -> dict[str, dict]:
    """Build (or confirm up to date) the given roles and their parents, in dependency order."""
    progress = progress or Progress()
    docker.require_engine()
    wanted = _check_roles(names or known_roles())
    order: list[Role] = []

    def visit(r: Role):
        if r.parent != "base":
            visit(ROLES[r.parent])
        if r not in order:
            order.append(r)
    for r in wanted:
        visit(r)

    base_id = None
    results: dict[str, dict] = {}
    for role in order:
        if os.environ.get(role.env_var):
            ref = os.environ[role.env_var]
            if not image_id(ref):
                raise UserError(f"{role.env_var}={ref} names an image that does not exist locally; build or pull it first.")
            results[role.name] = {"image": ref, "status": "user image", "seconds": 0.0}
            progress.done(f"{role.name:10s} {ref} (from {role.env_var})")
            continue
        if role.parent == "base":
            base_id = base_id or ensure_base(progress)
            parent_ref, parent_id = BASE_TAG, base_id
        else:
            parent_ref = results[role.parent]["image"]
            parent_id = image_id(parent_ref)
        tag = tag_for(role, parent_id)
        t = time.monotonic()
        if image_id(tag) and not (force or no_cache):
            results[role.name] = {"image": tag, "status": "up to date", "seconds": 0.0}
            progress.done(f"{role.name:10s} {tag} up to date")
            continue
        progress.step(f"building {role.name}: {role.what}")
        _build(role, tag, parent_ref, progress, no_cache=no_cache)
        secs = time.monotonic() - t
        results[role.name] = {"image": tag, "status": "built", "seconds": round(secs, 1)}
        progress.done(f"{role.name:10s} {tag} built in {secs:.0f} s")
    return results


def env_for_compose(roles: list[str] | None = None) -> dict[str, str]:
    """``MAILHA_IMAGE_<ROLE>`` for every role whose image is available (compose interpolates them)."""
    env = {}
    for name in roles or known_roles():
        ref = resolve(name)
        if ref:
            env[ROLES[name].env_var] = ref
    return env


def missing(roles: list[str]) -> list[str]:
    return [r for r in roles if not resolve(r)]


def prune(*, dry_run: bool = False, progress: Progress | None = None) -> dict[str, list[str]]:
    """Remove our role images that are no longer current (older hash tags).

    Only images labelled ``io.mailha.image`` are considered; the current image of every role,
    the base and user-supplied images are kept; an image a container still uses is skipped.
    """
    progress = progress or Progress()
    docker.require_engine()
    keep = set()
    for name in known_roles():
        ref = resolve(name)
        if ref and (iid := image_id(ref)):
            keep.add(iid)
    # top-level images only: intermediate layers go with the image that ends them
    stale: dict[str, list[str]] = {i["id"]: i["refs"] for i in docker.images(docker.LABEL_IMAGE) if i["id"] not in keep}
    removed, skipped = [], []
    for iid, refs in stale.items():
        label = ", ".join(refs) or iid[7:19]
        if dry_run:
            removed.append(label)
            progress.done(f"would remove {label}")
            continue
        # by tag first (an id with several tags refuses plain removal), then the id itself
        try:
            for ref in refs or [iid]:
                docker.remove_image(ref)
        except HostError as e:
            if "No such image" in str(e):
                continue  # gone meanwhile (another prune, a user's docker rmi)
            skipped.append(f"{label}: {str(e).split(' failed: ', 1)[-1]}")
            continue
        removed.append(label)
        progress.done(f"removed {label}")
    return {"removed": removed, "skipped": skipped}
