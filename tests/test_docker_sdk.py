"""Docker Engine access through the SDK (``harness.docker``), without Docker: no ``docker`` process
but ``docker compose`` anywhere in harness/, chaos/ and suites/; exec's real exit code and
deadline; the CLI's words in errors; the sweep's label filter; the pure helpers."""
import ast
import threading

import pytest
import requests

from harness import ROOT, cluster, docker
from harness.errors import HostError
from harness.images import build_text
from tests.fake_engine import FakeApi, api_error

SOURCES = sorted(p for d in ("harness", "chaos", "suites") for p in (ROOT / d).rglob("*.py"))


def _is_docker_word(node: ast.AST) -> bool:
    """``"docker"`` (or a path ending in /docker), ``docker_bin()``, ``shutil.which("docker")``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("/")[-1] == "docker"
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name == "docker_bin":
            return True
        if name == "which" and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "docker":
            return True
    return False


def docker_commands(source: str) -> list[int]:
    """Lines of ``source`` with an argument list that starts with the docker command but is not
    ``docker compose``, or a shell command given to ``os``/``subprocess`` that runs docker other
    than compose (``os.system("docker ps -a")``)."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and _is_docker_word(node.elts[0]):
            nxt = node.elts[1] if len(node.elts) > 1 else None
            if not (isinstance(nxt, ast.Constant) and nxt.value == "compose"):
                bad.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
              and isinstance(node.func.value, ast.Name) and node.func.value.id in ("os", "subprocess")):
            first = node.args[0]
            if isinstance(first, ast.JoinedStr) and first.values:
                first = first.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                words = first.value.split()
                if words[:1] == ["docker"] and words[1:2] != ["compose"]:
                    bad.append(node.lineno)
    return sorted(bad)


def test_no_docker_process_but_compose():
    assert SOURCES
    bad = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES for n in docker_commands(p.read_text())]
    assert bad == [], f"docker run as a process (only 'docker compose' may be): {bad}"
    assert not hasattr(docker, "run")  # the CLI wrapper is gone; compose() is its only heir


def test_the_scan_sees_a_docker_process():
    src = ('import subprocess, shutil\n'
           'subprocess.run([docker_bin(), "kill", "c"])\n'
           'subprocess.run(["docker", "compose", "up"])\n'
           'argv = ["/usr/bin/docker", "ps"]\n'
           'subprocess.run((shutil.which("docker"), "exec", "c", "true"))\n'
           'os.system("docker ps -a")\n'
           'os.system("docker compose ps")\n'
           'subprocess.run(f"docker rm -f {c}", shell=True)\n'
           'raise HostError("\'docker pause c\' failed")\n')
    assert docker_commands(src) == [2, 4, 5, 6, 8]


# -- exec -----------------------------------------------------------------------------------------
@pytest.fixture
def eng(monkeypatch):
    e = FakeApi(execs={"c1": (3, "out\n", "why\n")})
    monkeypatch.setattr(docker, "api", lambda: e)
    return e


def test_exec_gives_the_commands_exit_code_and_its_two_streams(eng):
    r = docker.exec_("c1", "false")
    assert (r.rc, r.out, r.err, r.ok) == (3, "out\n", "why\n", False)
    with pytest.raises(HostError, match=r"^'docker exec c1 sh' failed: why$"):
        docker.exec_("c1", "false", check=True)
    assert docker.exec_("c2", ["true"]).ok


def test_an_exec_the_engine_refuses_is_a_failed_result_in_the_clis_words(eng):
    eng.state = "exited"
    r = docker.exec_("c1", "true")
    assert (r.rc, r.out, r.err) == (1, "", "Error response from daemon: Container c1 is not running\n")
    eng.gone.add("c3")
    assert docker.exec_("c3", "true").err.startswith("Error response from daemon: No such container: c3")


def test_an_exec_that_does_not_end_hits_its_deadline(monkeypatch):
    release = threading.Event()

    class Hanging(FakeApi):
        def exec_start(self, eid, **kw):
            release.wait(5)
            return (b"", b"")
    monkeypatch.setattr(docker, "api", lambda: Hanging())
    with pytest.raises(HostError, match=r"^'docker exec c1 sleep' did not finish within 0 s\.$"):
        docker.exec_("c1", ["sleep", "60"], timeout=0.2)
    release.set()


def test_the_exit_code_is_read_once_the_engine_says_the_exec_ended():
    answers = iter([{"Running": True, "ExitCode": None}, {"Running": True, "ExitCode": None},
                    {"Running": False, "ExitCode": 7}])

    class A:
        def exec_inspect(self, eid):
            return next(answers)
    assert docker.exit_code(A(), "e0") == 7


# -- operations and their errors --------------------------------------------------------------------
def test_an_engine_error_is_one_sentence_in_the_clis_words(eng):
    eng.refuse["pause"] = ["Cannot pause container 1f: OCI runtime pause failed: unable to freeze: unknown"]
    with pytest.raises(HostError) as e:
        docker.pause("c1")
    assert str(e.value) == ("'docker pause c1' failed: Error response from daemon: Cannot pause container 1f: "
                            "OCI runtime pause failed: unable to freeze: unknown")
    docker.pause("c1")
    assert eng.state == "paused" and eng.calls == ["pause", "pause"]


def test_an_engine_that_does_not_answer_is_a_host_error_not_a_bug(monkeypatch):
    class Down:
        def kill(self, c, signal=None):
            raise requests.exceptions.ConnectionError("connection refused")

        def inspect_container(self, c):
            raise KeyError("a bug")  # not an engine problem: passes through as it is
    monkeypatch.setattr(docker, "api", Down)
    with pytest.raises(HostError, match=r"^'docker kill -s KILL c1' failed: the Docker engine did not answer"):
        docker.kill("c1")
    with pytest.raises(KeyError):
        docker.inspect("c1", "container")


def test_inspect_leaves_out_what_the_engine_does_not_know(eng):
    eng.gone.add("old")
    got = docker.inspect(["c1", "old"], "container")
    assert [g["Name"] for g in got] == ["/c1"]
    assert docker.state("old") == "removed" and docker.state("c1") == "running"


def test_the_sweep_lists_and_removes_only_objects_of_the_run(monkeypatch):
    asked, removed = [], []

    class Engine:
        def containers(self, all=False, filters=None):
            asked.append(("containers", filters))
            return [{"Id": "c1", "Names": ["/p-a-1"], "State": "running", "Labels": {}}]

        def networks(self, filters=None):
            asked.append(("networks", filters))
            return [{"Id": "n1", "Name": "p_lan"}]

        def volumes(self, filters=None):
            asked.append(("volumes", filters))
            return {"Volumes": [{"Name": "p_v1"}, {"Name": "p_v2"}]}

        def remove_container(self, c, v=False, force=False):
            assert v and force
            removed.append(c)

        def remove_network(self, n):
            raise api_error("error while removing network: network p_lan has active endpoints")

        def remove_volume(self, name, force=False):
            removed.append(name)
    monkeypatch.setattr(docker, "api", Engine)
    got = cluster.remove_run("r1")
    assert got == {"containers": 1, "networks": 0, "volumes": 2}   # a refused removal is not counted
    assert all(f == {"label": "io.mailha.run=r1"} for _, f in asked) and len(asked) == 3
    assert removed == ["c1", "p_v1", "p_v2"]


# -- pure helpers -------------------------------------------------------------------------------------
def test_summary_of_a_listed_container():
    c = {"Id": "abc", "Names": ["/mailha-r-mirror-a-1"], "State": "exited",
         "Labels": {"com.docker.compose.service": "mirror-a", "io.mailha.run": "r"}}
    assert docker.summary(c) == {"id": "abc", "name": "mailha-r-mirror-a-1", "state": "exited", "service": "mirror-a",
                                 "labels": c["Labels"]}
    assert docker.summary({"Id": "x", "Names": ["/solo"], "State": "running", "Labels": None})["service"] == ""


@pytest.mark.parametrize("ref,parts", [
    ("local/debian:bookworm", ("local/debian", "bookworm")),
    ("mailha/mail", ("mailha/mail", "latest")),
    ("registry:5000/mymail", ("registry:5000/mymail", "latest")),
    ("registry:5000/mymail:1.2", ("registry:5000/mymail", "1.2")),
])
def test_split_ref(ref, parts):
    assert docker.split_ref(ref) == parts


def test_build_text_is_what_the_cli_printed():
    # as the engine streams it (20.10): a step's title and its newline come apart
    stream = [{"stream": "Step 2/9 : RUN apt-get update"}, {"stream": "\n"}, {"stream": " ---> Running in 1f\n"},
              {"aux": {"ID": "sha256:1"}}, {"status": "Downloading"},
              {"error": "The command '/bin/sh -c apt-get install x' returned a non-zero code: 100",
               "errorDetail": {"code": 100}}]
    assert "".join(build_text(m) for m in stream).splitlines() == [
        "Step 2/9 : RUN apt-get update", " ---> Running in 1f", "Downloading",
        "The command '/bin/sh -c apt-get install x' returned a non-zero code: 100"]


def test_daemon_error_and_failed():
    e = api_error("No such container: c1")
    assert docker.daemon_error(e) == "Error response from daemon: No such container: c1"
    assert str(docker.failed("docker start c1", e)) == "'docker start c1' failed: Error response from daemon: No such container: c1"
    assert str(docker.failed("docker start c1", requests.exceptions.ReadTimeout("x"))).startswith(
        "'docker start c1' failed: the Docker engine did not answer (ReadTimeout")
