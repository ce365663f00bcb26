"""Docker Engine access: the Engine API through the Docker SDK for Python; ``docker compose`` by CLI.

Container operations, inspection, exec, logs, images and the label sweep talk to the engine's
API (``client()``: one SDK client per process, the API version negotiated with the engine, so
Debian's 20.10 works). That gives exec's real exit code and the engine's own error text with no
``docker`` process per call: an inspect or a pause costs a request, not a CLI start-up, which is
what a fault's apply-and-confirm loop and the observers do many times a second.

``docker compose`` stays a CLI call (``compose``): compose files are the user-facing format and
Compose v2 is a CLI plugin, not an API. Nothing else may start a ``docker`` process
(``tests/test_docker_sdk.py``).

Every call has a deadline (the SDK has none for exec): ``HostError("'docker pause c' did not
finish within 60 s.")``. An engine error is one sentence in the CLI's words, ``HostError("'docker
pause c' failed: Error response from daemon: …")`` (``exec_`` and ``pull`` return it as a failed
``Result`` instead, unless ``check``); an engine that does not answer is ``HostError("'…' failed:
the Docker engine did not answer (…).")``.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import HostError

LABEL_RUN = "io.mailha.run"        # every container, network and volume carries it
LABEL_OWNER = "io.mailha.owner"    # "<host>:<pid>" of a pytest/chaos process, or "cli"
LABEL_DIR = "io.mailha.dir"        # the run directory (for `mailha down` to save logs)
LABEL_DESIGN = "io.mailha.design"
LABEL_IMAGE = "io.mailha.image"    # on images we build: the role
COMPOSE_SERVICE = "com.docker.compose.service"

#: the HTTP timeout of the SDK client: only a backstop (every call has its own deadline), long
#: enough for the longest exec or stop a caller waits for
BACKSTOP_S = 900
#: connections kept to the engine (observers, probes and the nemesis call it at once)
POOL = 32
UNREACHABLE = ("the Docker daemon is not reachable ('docker version' failed); run 'make setup' to start it, "
               "or start dockerd yourself.")


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


# -- the client and its deadlines ---------------------------------------------------------------
_client = None
_client_lock = threading.Lock()


def _sdk():
    import docker as sdk  # the SDK (this module is harness.docker); imported on first use: ~0.1 s

    return sdk


def client():
    """The process's SDK client (``docker.from_env``: DOCKER_HOST or the local socket; API version
    negotiated with the engine). ``HostError`` when no engine answers."""
    global _client
    with _client_lock:
        if _client is None:
            sdk = _sdk()
            try:
                _client = sdk.from_env(timeout=BACKSTOP_S, max_pool_size=POOL)
            except sdk.errors.DockerException as e:
                raise HostError(UNREACHABLE) from e
        return _client


def api():
    """The low-level API client (``client().api``): its answers are the engine's JSON, the shape
    ``docker inspect`` prints."""
    return client().api


def within(what: str, fn: Callable[[], Any], timeout: float | None) -> Any:
    """``fn()`` with a deadline: ``HostError("'WHAT' did not finish within N s.")`` when it has not
    returned after ``timeout`` seconds (it goes on in the background, as a killed CLI's request
    went on in the engine). Its own exceptions pass through."""
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def work():
        try:
            box["v"] = fn()
        except BaseException as e:  # handed to the caller
            box["e"] = e
    t = threading.Thread(target=work, daemon=True, name=f"docker: {what[:40]}")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise HostError(f"'{what}' did not finish within {timeout:.0f} s.")
    if "e" in box:
        raise box["e"]
    return box.get("v")


def is_api_error(e: BaseException) -> bool:
    """The engine answered, with an error (``docker.errors.APIError``)."""
    return isinstance(e, _sdk().errors.APIError)


def is_not_found(e: BaseException) -> bool:
    return isinstance(e, _sdk().errors.NotFound)


def daemon_error(e: BaseException) -> str:
    """An engine error in the CLI's words: ``Error response from daemon: <explanation>``."""
    text = getattr(e, "explanation", None) or str(e)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"Error response from daemon: {str(text).strip()}"


def is_unanswered(e: BaseException) -> bool:
    """No answer from the engine: the socket refused, closed or timed out (not an engine error)."""
    import requests

    return isinstance(e, (requests.exceptions.RequestException, OSError, _sdk().errors.DockerException)) \
        and not is_api_error(e)


def failed(what: str, e: BaseException) -> HostError:
    """The one-sentence ``HostError`` of a call the engine refused or never answered."""
    if isinstance(e, HostError):
        return e
    if is_api_error(e):
        line = (daemon_error(e).splitlines() or ["?"])[-1]
        return HostError(f"'{what}' failed: {line}")
    return HostError(f"'{what}' failed: the Docker engine did not answer ({type(e).__name__}: {str(e)[:120]}).")


def call(what: str, fn: Callable[[], Any], timeout: float | None = 120) -> Any:
    """``fn()`` within ``timeout``; an engine error or an engine that does not answer becomes one
    ``HostError`` sentence naming ``what`` (the equivalent CLI command). Other exceptions (bugs)
    pass through."""
    try:
        return within(what, fn, timeout)
    except HostError:
        raise
    except Exception as e:
        if is_api_error(e) or is_unanswered(e):
            raise failed(what, e) from e
        raise


def _cmd(*words: str) -> str:
    """The equivalent CLI command, as the messages name it: ``docker`` and its first three words."""
    return "docker " + " ".join(words[:3])


# -- engine ---------------------------------------------------------------------------------
def ping(timeout: float = 15) -> str | None:
    """The engine's version, or None when no engine answers."""
    try:
        v = within("docker version", lambda: client().version(), timeout)
    except Exception:
        return None
    return (v or {}).get("Version") or None


def require_engine() -> str:
    version = ping()
    if not version:
        raise HostError(UNREACHABLE)
    return version


# -- docker compose (the CLI) -----------------------------------------------------------------
def docker_bin() -> str:
    path = shutil.which("docker")
    if not path:
        raise HostError("the docker command is not installed; run 'make setup' (or install Docker Engine with the Compose v2 plugin).")
    return path


#: how long an interrupted ``docker compose`` may take to finish before it is killed
COMPOSE_INTERRUPT_WAIT_S = 60.0


def compose(args: list[str], *, check: bool = True, timeout: float | None = 120, env: dict | None = None) -> Result:
    """Run ``docker compose ARGS``; with ``check`` a non-zero exit raises HostError with its message."""
    what = _cmd("compose", *args)
    with subprocess.Popen([docker_bin(), "compose", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            p.kill()
            p.communicate()
            raise HostError(f"'{what}' did not finish within {timeout:.0f} s.") from e
        except KeyboardInterrupt:
            # Ctrl-C (a terminal sends compose its own SIGINT): let compose finish what it asked the
            # engine for, so that the caller's cleanup sees every container it made — killed at
            # once, the engine went on creating containers after the cleanup had run
            try:
                p.communicate(timeout=COMPOSE_INTERRUPT_WAIT_S)
            except BaseException:
                p.kill()
            raise
    res = Result(p.returncode, out, err)
    if check and not res.ok:
        msg = (err.strip() or out.strip()).splitlines()
        raise HostError(f"'{what}' failed: {msg[-1] if msg else 'exit ' + str(p.returncode)}")
    return res


def compose_version() -> str | None:
    try:
        r = compose(["version", "--short"], check=False, timeout=15)
    except HostError:
        return None
    return r.out.strip() if r.ok else None


# -- listing and inspection --------------------------------------------------------------------
def summary(c: dict) -> dict:
    """One container of the engine's list (``GET /containers/json``) as ``{id, name, state,
    service, labels}`` (``service``: its compose service, "" when none)."""
    labels = c.get("Labels") or {}
    names = c.get("Names") or [""]
    return {"id": c.get("Id", ""), "name": names[0].lstrip("/"), "state": c.get("State", ""),
            "service": labels.get(COMPOSE_SERVICE, ""), "labels": labels}


def containers(label: str, *, timeout: float = 120) -> list[dict]:
    """Every container (running or not) carrying ``label`` (``key`` or ``key=value``), as ``summary``."""
    found = call("docker ps -a --filter", lambda: api().containers(all=True, filters={"label": label}), timeout)
    return [summary(c) for c in found or []]


def networks(label: str | None = None, *, timeout: float = 120) -> list[dict]:
    """The engine's networks (``Name``, ``Id``, ``IPAM``, ``Labels`` as ``docker network inspect``
    gives them), only those carrying ``label`` if given."""
    return call("docker network ls", lambda: api().networks(filters={"label": label} if label else None), timeout) or []


def ids(kind: str, label: str, *, timeout: float = 120) -> list[str]:
    """IDs (containers, networks) or names (volumes) of objects carrying ``label``."""
    if kind == "container":
        return [c["id"] for c in containers(label, timeout=timeout)]
    if kind == "network":
        return [n["Id"] for n in networks(label, timeout=timeout)]
    if kind == "volume":
        vols = call("docker volume ls", lambda: api().volumes(filters={"label": label}), timeout) or {}
        return [v["Name"] for v in vols.get("Volumes") or []]
    raise ValueError(kind)


_INSPECT = {"container": "inspect_container", "network": "inspect_network", "volume": "inspect_volume",
            "image": "inspect_image"}


def inspect(obj: str | Iterable[str], kind: str | None = None, *, timeout: float = 120) -> list[dict]:
    """What ``docker inspect`` prints for each object (``kind``: container, network, volume or
    image; any of them, in that order, when None). Objects the engine does not know are left
    out; an engine that refuses otherwise or does not answer raises ``HostError``."""
    objs = [obj] if isinstance(obj, str) else list(obj)
    kinds = [kind] if kind else list(_INSPECT)

    def one(o: str) -> dict | None:
        for k in kinds:
            try:
                return getattr(api(), _INSPECT[k])(o)
            except Exception as e:
                if not is_not_found(e):
                    raise
        return None

    def all_of():
        return [d for d in (one(o) for o in objs) if d is not None]
    return call(_cmd(*([kind] if kind else []), "inspect", *objs), all_of, timeout)


def state(container: str, *, timeout: float = 15) -> str:
    """The container's ``State.Status`` (running, paused, exited, dead, …), ``removed`` when the
    engine does not know it; ``HostError`` when the engine does not answer."""
    info = inspect(container, "container", timeout=timeout)
    return ((info[0].get("State") or {}).get("Status") or "unknown") if info else "removed"


def logs(container: str, *, tail: int | None = None, since_s: float | None = None, timestamps: bool = False,
         timeout: float = 60) -> str:
    """The container's output (stdout and stderr as the engine interleaved them): the last
    ``tail`` lines, or those of the last ``since_s`` seconds; "" when the engine does not know
    the container."""
    import time

    kw: dict[str, Any] = {"timestamps": timestamps, "tail": tail if tail is not None else "all"}
    if since_s is not None:
        kw["since"] = int(time.time() - since_s)

    def read():
        try:
            return api().logs(container, **kw)
        except Exception as e:
            if is_not_found(e):
                return b""
            raise
    return (call(_cmd("logs", container), read, timeout) or b"").decode(errors="replace")


# -- container operations ------------------------------------------------------------------------
def kill(container: str, signal: str = "KILL", *, timeout: float = 120) -> None:
    call(_cmd("kill", "-s", signal) + f" {container}", lambda: api().kill(container, signal=signal), timeout)


def stop(container: str, grace: int = 10, *, timeout: float = 120) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (``docker stop -t GRACE``)."""
    call(f"docker stop -t {grace} {container}", lambda: api().stop(container, timeout=grace), timeout)


def start(container: str, *, timeout: float = 120) -> None:
    call(_cmd("start", container), lambda: api().start(container), timeout)


def pause(container: str, *, timeout: float = 120) -> None:
    call(_cmd("pause", container), lambda: api().pause(container), timeout)


def unpause(container: str, *, timeout: float = 120) -> None:
    call(_cmd("unpause", container), lambda: api().unpause(container), timeout)


def remove(container: str, *, volumes: bool = False, timeout: float = 120) -> None:
    """``docker rm -f`` (``volumes``: with its anonymous volumes, ``-v``)."""
    call(_cmd("rm", "-f", container), lambda: api().remove_container(container, v=volumes, force=True), timeout)


def remove_network(name: str, *, timeout: float = 120) -> None:
    call(_cmd("network", "rm", name), lambda: api().remove_network(name), timeout)


def remove_volume(name: str, *, timeout: float = 120) -> None:
    call(_cmd("volume", "rm", name), lambda: api().remove_volume(name, force=True), timeout)


def _text(b: bytes | None) -> str:
    return (b or b"").decode(errors="replace")


def exit_code(a, exec_id: str, settle_s: float = 2.0) -> int | None:
    """The exit code of a finished exec. The engine may report it a moment after the output
    ended (``Running`` still true): asked again for up to ``settle_s``; None if it never said."""
    import time

    end = time.monotonic() + settle_s
    while True:
        info = a.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() > end:
            return info.get("ExitCode")
        time.sleep(0.01)


def exec_(container: str, cmd: list[str] | str, *, timeout: float = 30, check: bool = False,
          user: str | None = None, detach: bool = False) -> Result:
    """``docker exec``; a string command runs under ``sh -c``. ``Result`` with the command's exit
    code and its stdout and stderr; an exec the engine refuses (no such container, not running)
    is ``Result(1, "", "Error response from daemon: …")`` as the CLI gave it, or with ``check``
    (as any non-zero exit) a ``HostError``. ``detach``: started, not awaited (rc 0)."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    what = _cmd("exec", *(["-u", user] if user else []), *(["-d"] if detach else []), container, *argv)

    def run() -> Result:
        a = api()
        try:
            eid = a.exec_create(container, argv, user=user or "")["Id"]
            if detach:
                a.exec_start(eid, detach=True)
                return Result(0, "", "")
            out, err = a.exec_start(eid, demux=True)
            rc = exit_code(a, eid)
        except Exception as e:
            if is_api_error(e):
                return Result(1, "", daemon_error(e) + "\n")
            raise
        return Result(126 if rc is None else int(rc), _text(out), _text(err))
    res = call(what, run, timeout)
    if check and not res.ok:
        msg = (res.err.strip() or res.out.strip()).splitlines()
        raise HostError(f"'{what}' failed: {msg[-1] if msg else 'exit ' + str(res.rc)}")
    return res


def run_container(image: str, cmd: list[str], *, labels: dict[str, str], entrypoint: str | None = None,
                  volumes: dict[str, str] | None = None, network: str = "none", timeout: float = 120) -> Result:
    """``docker run --rm``: a throwaway container of ``image`` (carrying ``labels``; ``volumes``:
    volume name -> mount point) runs ``cmd`` to its end; its exit code and output. It is removed
    even when it fails or the deadline passes."""
    holder: dict[str, str] = {}
    what = _cmd("run", "--rm", image)

    def run() -> Result:
        a = api()
        hc = a.create_host_config(binds=[f"{v}:{d}" for v, d in (volumes or {}).items()], network_mode=network)
        cid = a.create_container(image, command=cmd, entrypoint=entrypoint, labels=labels, host_config=hc)["Id"]
        holder["id"] = cid
        a.start(cid)
        rc = a.wait(cid).get("StatusCode")
        out = a.logs(cid, stdout=True, stderr=False)
        err = a.logs(cid, stdout=False, stderr=True)
        return Result(int(rc if rc is not None else 125), _text(out), _text(err))
    try:
        return within(what, run, timeout)
    except HostError:
        raise
    except Exception as e:
        if is_api_error(e):
            return Result(125, "", daemon_error(e) + "\n")
        if is_unanswered(e):
            raise failed(what, e) from e
        raise
    finally:
        if holder.get("id"):
            try:
                within(_cmd("rm", "-f", holder["id"]), lambda: api().remove_container(holder["id"], v=True, force=True), 60)
            except Exception:
                pass  # labelled: the sweep removes it


# -- images --------------------------------------------------------------------------------------
def image_id(ref: str, *, timeout: float = 120) -> str | None:
    """The image's id, or None when the engine has no image of that name."""
    info = inspect(ref, "image", timeout=timeout)
    return info[0].get("Id") if info else None


def images(label: str, *, timeout: float = 120) -> list[dict]:
    """Top-level images carrying ``label``, as ``{id, refs}`` (``refs``: its ``repo:tag`` names,
    none for an untagged image)."""
    found = call("docker image ls --filter", lambda: api().images(filters={"label": label}), timeout) or []
    return [{"id": i["Id"], "refs": [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]} for i in found]


def remove_image(ref: str, *, timeout: float = 120) -> None:
    call(_cmd("image", "rm", ref), lambda: api().remove_image(ref), timeout)


def split_ref(ref: str) -> tuple[str, str]:
    """``repo:tag`` -> (repo, tag); a registry's port is not a tag (``host:5000/x`` -> latest)."""
    repo, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return repo, tag


def pull(ref: str, *, timeout: float = 180) -> Result:
    """``docker pull``: ``Result(0, …)`` when the image came, else rc 1 and the engine's (or the
    registry's) last word in ``err``."""
    repo, tag = split_ref(ref)
    what = _cmd("pull", ref)

    def run() -> Result:
        try:
            for ev in api().pull(repo, tag=tag, stream=True, decode=True):
                if ev.get("error"):
                    return Result(1, "", f"Error response from daemon: {ev['error']}\n")
        except Exception as e:
            if is_api_error(e):
                return Result(1, "", daemon_error(e) + "\n")
            raise
        return Result(0, ref + "\n", "")
    try:
        return within(what, run, timeout)
    except HostError as e:
        return Result(1, "", str(e) + "\n")
    except Exception as e:
        return Result(1, "", str(failed(what, e)) + "\n")


def tag(src: str, ref: str, *, timeout: float = 120) -> None:
    repo, t = split_ref(ref)
    call(_cmd("tag", src, ref), lambda: api().tag(src, repo, t, force=True), timeout)


def import_image(chunks: Iterable[bytes], ref: str, *, changes: list[str] = ()) -> str:
    """``docker import``: an image ``ref`` from a root filesystem tar streamed as ``chunks``; the
    engine's answer (its last status line). ``HostError`` with the engine's message on failure."""
    repo, t = split_ref(ref)
    try:
        answer = api().import_image_from_data(chunks, repository=repo, tag=t, changes=list(changes) or None)
    except Exception as e:
        raise failed(_cmd("import", "-", ref), e) from e
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    if '"error"' in text or "errorDetail" in text:
        raise HostError(f"'docker import - {ref}' failed: {text.strip().splitlines()[-1][:200]}")
    return text.strip()


def build(context: str, tags: list[str], *, buildargs: dict[str, str], labels: dict[str, str],
          no_cache: bool = False) -> Iterable[dict]:
    """``docker build --force-rm`` of ``context`` with the classic builder (Debian's engine has
    no BuildKit front end), tagged with every tag of ``tags``: the builder's messages, decoded
    (``{"stream": "Step 1/9 : FROM …\\n"}``, ``{"error": …}`` when it failed). The extra tags are
    set after the last message. ``HostError`` when the engine refuses the build or stops answering."""
    try:
        for msg in api().build(path=context, tag=tags[0], buildargs=buildargs, labels=labels, nocache=no_cache,
                               rm=True, forcerm=True, decode=True, timeout=BACKSTOP_S):
            yield msg
            if msg.get("error"):
                return
    except Exception as e:
        if is_api_error(e) or is_unanswered(e):
            raise failed(_cmd("build", context), e) from e
        raise
    for extra in tags[1:]:
        tag(tags[0], extra)
