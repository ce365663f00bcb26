"""Pure logic of the foundation: design names and x-mailha merging, thresholds, image content
hashes, owner labels, compose error explanations, greetings, message tokens, claim outcomes."""
import os

import pytest

from harness import designs, images, thresholds
from harness.certification import ClaimResult, Outcome
from harness.clients import identify
from harness.clients.message import build, token_of
from harness.cluster import _explain_compose_error, owner_alive, owner_label
from harness.errors import UserError


def test_design_names_and_aliases():
    assert designs.canonical("Mirror") == "mirror"
    assert designs.canonical("domain-split") == "proxy"
    with pytest.raises(UserError, match="unknown design 'nosuch'; the designs are: mirror, functional_split"):
        designs.canonical("nosuch")


def test_x_mailha_blocks_deep_merge_where_compose_would_replace(tmp_path):
    base = tmp_path / "base.yml"
    base.write_text("x-mailha:\n  endpoints:\n    smtp: {host: 10.0.0.1, port: 25}\n  nodes: {a: {lan: 1}}\n  ready: [1, 2]\n")
    over = tmp_path / "over.yml"
    over.write_text("x-mailha:\n  endpoints:\n    imap: {host: 10.0.0.1, port: 143}\n  ready: [3]\nservices: {}\n")
    meta = designs.read_x_mailha([base, over])
    assert set(meta["endpoints"]) == {"smtp", "imap"}  # maps merge key by key
    assert meta["ready"] == [3]                        # lists are replaced
    assert meta["nodes"] == {"a": {"lan": 1}}


def test_override_that_is_not_yaml_or_not_a_mapping_is_a_one_sentence_error(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("services: [\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        designs.read_x_mailha([bad])
    lst = tmp_path / "list.yml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="is not a compose file"):
        designs.read_x_mailha([lst])


def test_thresholds_parse_overrides_and_refuse_unknown_names():
    t = thresholds.parse("no_interruption_s=5,resync_s=12")
    assert t["no_interruption_s"] == 5.0 and t["resync_s"] == 12.0
    assert t["converge_s"] == thresholds.THRESHOLDS["converge_s"].default
    with pytest.raises(ValueError, match="unknown threshold 'no_interuption_s'"):
        thresholds.parse(["no_interuption_s=5"])
    with pytest.raises(ValueError, match="needs a number"):
        thresholds.parse(["resync_s=soon"])


def test_image_tag_follows_the_build_context_content(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "CONTEXTS", tmp_path)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "Dockerfile").write_text("FROM x\n")
    role = images.Role("demo", "a demo role")
    h1 = images.context_hash(role, "sha256:parent1")
    assert h1 == images.context_hash(role, "sha256:parent1")       # stable: an unchanged image is not rebuilt
    assert h1 != images.context_hash(role, "sha256:parent2")       # a new parent image rebuilds
    (tmp_path / "demo" / "entry").write_text("#!/bin/sh\n")
    h2 = images.context_hash(role, "sha256:parent1")
    assert h2 != h1                                                 # a new file rebuilds
    os.chmod(tmp_path / "demo" / "entry", 0o755)
    assert images.context_hash(role, "sha256:parent1") != h2        # so does a changed mode


def test_prune_keeps_current_images_and_removes_only_stale_labelled_ones(monkeypatch):
    from harness import docker
    from tests.fake_engine import api_error
    current = {"mail": "mailha/mail:new", "webmail": "mailha/webmail:cur"}
    ids = {"mailha/mail:new": "sha256:m2", "mailha/webmail:cur": "sha256:w1"}
    listing = [{"Id": "sha256:m2", "RepoTags": ["mailha/mail:new", "mailha/mail:latest"]},
               {"Id": "sha256:m1", "RepoTags": ["mailha/mail:old"]}, {"Id": "sha256:w1", "RepoTags": ["mailha/webmail:cur"]},
               {"Id": "sha256:d0", "RepoTags": ["<none>:<none>"]}, {"Id": "sha256:u1", "RepoTags": ["mailha/mail:used"]}]
    removed = []

    class Engine:
        def images(self, filters=None, **kw):
            assert filters == {"label": docker.LABEL_IMAGE}     # never anything without our label
            return listing

        def remove_image(self, ref, **kw):
            if ref == "mailha/mail:used":
                raise api_error("conflict: image is being used by running container abc")
            removed.append(ref)
    monkeypatch.setattr(docker, "require_engine", lambda: None)
    monkeypatch.setattr(docker, "api", Engine)
    monkeypatch.setattr(images, "resolve", lambda n: current.get(n))
    monkeypatch.setattr(images, "image_id", lambda ref: ids.get(ref))
    res = images.prune()
    assert "mailha/mail:old" in removed and "sha256:d0" in removed
    assert not any(r in removed for r in ("mailha/mail:new", "mailha/webmail:cur", "mailha/mail:latest"))
    assert res["removed"] == ["mailha/mail:old", "d0"]
    assert res["skipped"][0].startswith("mailha/mail:used: Error response from daemon: conflict")


def test_unknown_role_is_a_usage_error():
    with pytest.raises(UserError, match="unknown role 'mial'"):
        images._check_roles(["mial"])


def test_owner_labels_identify_live_and_dead_processes():
    me = owner_label()
    assert owner_alive(me) and owner_alive("cli")
    host_ns = me.split(":")[0]
    assert not owner_alive(f"{host_ns}:999999999:1")       # no such pid: a killed run, to be swept
    pid = me.split(":")[1]
    assert not owner_alive(f"{host_ns}:{pid}:12345")        # same pid, other start time: reused pid
    assert owner_alive("otherhost/1:1:1")                    # another host's run is not ours to judge
    assert not owner_alive("garbage")


@pytest.mark.parametrize("stderr,expect", [
    ("Error response from daemon: driver failed programming external connectivity on endpoint x: "
     "Bind for 127.0.0.1:18080 failed: port is already allocated", "port 127.0.0.1:18080 is already in use"),
    ("Error response from daemon: Pool overlaps with other one on this address space", "overlaps an existing Docker network"),
    ("Error response from daemon: No such image: mailha/mail:abc", "run 'mailha images build'"),
    ("something else entirely\nlast line", "docker compose failed: last line"),
])
def test_compose_errors_become_one_sentence(stderr, expect):
    assert expect in _explain_compose_error(stderr, [])


@pytest.mark.parametrize("greeting,nodes,node", [
    ("* OK [CAPABILITY IMAP4rev1] mirror-b ready.", ["mirror-a", "mirror-b"], "mirror-b"),
    ("220 mirror-a.example.test ESMTP mirror-a", ["mirror-a", "mirror-b"], "mirror-a"),
    ("+OK be10 ready.", ["be1", "be10"], "be10"),
    ("220 mx.example.org ESMTP Postfix", [], "mx"),
    ("garbage", [], None),
])
def test_the_answering_node_is_read_from_its_greeting(greeting, nodes, node):
    assert identify(greeting, nodes) == node


def test_messages_carry_their_token_in_three_places():
    raw = build("mh-abc1-s0n7", "user1@example.test")
    text = raw.decode()
    assert "Message-ID: <mh-abc1-s0n7@mailha.test>" in text and "Subject: mailha mh-abc1-s0n7" in text
    assert token_of(raw) == "mh-abc1-s0n7"
    assert token_of(b"Message-ID: <mh-zz9-q1@mailha.test>\r\n") == "mh-zz9-q1"
    assert token_of(b"Subject: hello\r\n") is None


def test_outcome_compares_measurements_with_the_seed_claims():
    o = Outcome("mirror", None)
    o.results["load_sharing"] = ClaimResult("load_sharing", "Some", {}, [], [])      # claimed Some: agrees
    o.results["auto_resync"] = ClaimResult("auto_resync", "No", {}, ["took 300 s"], [])
    o.results["processing_redundancy"] = ClaimResult("processing_redundancy", "Yes", {}, [], [])  # exceeds Some
    assert set(o.below_claim()) == {"auto_resync"}
    with pytest.raises(AssertionError, match="mirror.auto_resync: claimed Yes, measured No — took 300 s"):
        o.assert_claims_hold()
    v = Outcome("mirror", "no-resync-hook")
    v.results = dict(o.results)
    v.assert_caught("auto_resync")
    with pytest.raises(AssertionError, match="was not caught"):
        v.assert_caught("load_sharing")


def test_a_vip_ready_check_waits_for_the_preferred_node(monkeypatch):
    """A VIP answered by the wrong node is not ready yet; by the right one it is."""
    import socket as _socket

    from harness import readiness

    greetings = {"imap": b"* OK [CAPABILITY IMAP4rev1] mirror-b ready.\r\n", "smtp": b"220 mirror-b ESMTP\r\n"}

    class Sock:
        def __init__(self, greet):
            self.greet = greet
        def __enter__(self):
            return self
        def __exit__(self, *a):
            return False
        def sendall(self, data):
            pass
        def settimeout(self, t):
            pass
        def recv(self, n):
            g, self.greet = self.greet, b""
            return g

    proto = {"p": "imap"}
    monkeypatch.setattr(_socket, "create_connection", lambda addr, timeout=None: Sock(greetings[proto["p"]]))
    with pytest.raises(ConnectionError, match="lacks 'mirror-a'"):
        readiness.check({"proto": "imap", "host": "10.231.0.200", "expect": "mirror-a"})
    assert "mirror-b" in readiness.check({"proto": "imap", "host": "10.231.0.200", "expect": "mirror-b"})
    proto["p"] = "smtp"
    with pytest.raises(ConnectionError, match="SMTP greeting lacks 'mirror-a'"):
        readiness.check({"proto": "smtp", "host": "10.231.0.201", "expect": "mirror-a"})


def test_a_containers_log_is_kept_before_it_is_removed_or_recreated(tmp_path, monkeypatch):
    from harness import cluster as cl
    from harness import docker

    c = cl.Cluster.__new__(cl.Cluster)
    c.cluster_dir = tmp_path
    names = {"be2": "mailha-r-be2-1"}
    monkeypatch.setattr(cl.Cluster, "containers", lambda self: dict(names))
    logs = iter(["first life\n", "second life\n"])
    monkeypatch.setattr(docker, "logs", lambda name, **kw: next(logs))
    assert c.keep_logs("be2").name == "be2.1.log"
    assert c.keep_logs("be2").name == "be2.2.log"
    assert (tmp_path / "logs" / "be2.1.log").read_text() == "first life\n"
    assert (tmp_path / "logs" / "be2.2.log").read_text() == "second life\n"
    assert c.keep_logs("ldap") is None  # no container: nothing to keep

    def unreadable(name, **kw):
        raise RuntimeError("engine gone")
    monkeypatch.setattr(docker, "logs", unreadable)
    assert "could not be read before it was removed: engine gone" in c.keep_logs("be2").read_text()


def test_an_smtp_server_not_known_when_the_client_started_is_still_named_from_its_banner():
    """smtplib hands the banner back without its "220": the client must give identify() the code
    too, or a server added at runtime (design III's ss4) answers as nobody (its SMTP share read 0)."""
    import socket
    import threading

    from harness.clients.smtp import SmtpClient
    from harness.history import History

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        f = c.makefile("rwb")
        f.write(b"220 ss4.example.test ESMTP ss4\r\n")
        f.flush()
        for line in f:
            cmd = line.strip().upper()
            f.write(b"221 bye\r\n" if cmd == b"QUIT" else b"250 ss4.example.test\r\n")
            f.flush()
            if cmd == b"QUIT":
                break
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    h = History()
    SmtpClient(h, "probe-smtp-0", ["ss1", "ss2", "ss3"], 2.0).probe("127.0.0.1", srv.getsockname()[1], "vip")
    t.join(2)
    srv.close()
    done = [e for e in h.events if e.type != "invoke"]
    assert done and done[-1].type == "ok" and done[-1].node == "ss4"
