"""Override files are read as Compose reads them: ``!reset`` and ``!override`` anywhere, the
``x-mailha`` block layered key by key, and format-specific readiness checks a user can drop by
name (``ready_extra``) without restating the protocol checks (``ready``)."""
import shutil
import subprocess

import pytest
import yaml

from harness import designs
from harness.designs import RESET, Override


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_safe_load_refuses_the_tags_that_compose_accepts(tmp_path):
    """The defect: PyYAML's safe loader rejects ``!reset``; the compose loader reads it."""
    text = "services:\n  mirror-a:\n    cap_add: !reset []\n"
    with pytest.raises(yaml.constructor.ConstructorError, match="!reset"):
        yaml.safe_load(text)
    doc = designs.read_compose_yaml(write(tmp_path, "o.yml", text))
    assert doc["services"]["mirror-a"]["cap_add"] is RESET


def test_override_tag_keeps_its_value_of_any_kind(tmp_path):
    doc = designs.read_compose_yaml(write(tmp_path, "o.yml",
        "a: !override {x: 1, y: [1, 2]}\nb: !override [3]\nc: !override 5\nd: !override 'text'\ne: !reset null\n"
        "f: !reset {}\n"))
    assert isinstance(doc["a"], Override) and doc["a"].value == {"x": 1, "y": [1, 2]}
    assert doc["b"].value == [3] and doc["c"].value == 5 and doc["d"].value == "text"
    assert doc["e"] is RESET and doc["f"] is RESET


def test_x_mailha_reset_removes_override_replaces_mappings_merge_lists_replace(tmp_path):
    base = write(tmp_path, "base.yml", """
x-mailha:
  endpoints: {smtp: {host: 10.0.0.1, port: 25}, imap: {host: 10.0.0.1, port: 143}}
  nodes: {a: {lan: 1, data: true}, b: {lan: 2}}
  vips: [10.0.0.200, 10.0.0.201]
  ready_extra: {a-sdbox: {service: a, proto: exec, cmd: "test -d /x"}, b-sdbox: {service: b, proto: exec, cmd: "true"}}
""")
    over = write(tmp_path, "over.yml", """
services:
  a: {cap_add: !reset [], ports: !reset []}
x-mailha:
  endpoints: {imap: !reset null}
  nodes: {a: !override {lan: 9}}
  vips: [10.0.0.200]
  ready_extra: {a-sdbox: !reset null}
""")
    meta = designs.read_x_mailha([base, over])
    assert meta["endpoints"] == {"smtp": {"host": "10.0.0.1", "port": 25}}    # !reset removes the key
    assert meta["nodes"] == {"a": {"lan": 9}, "b": {"lan": 2}}                  # !override: no merge
    assert meta["vips"] == ["10.0.0.200"]                                      # lists replace
    assert list(meta["ready_extra"]) == ["b-sdbox"]                             # one check dropped by name
    # a whole block can be reset or overridden as well
    gone = write(tmp_path, "gone.yml", "x-mailha: !reset null\n")
    assert designs.read_x_mailha([base, gone]) == {}
    only = write(tmp_path, "only.yml", "x-mailha: !override {design: mine}\n")
    assert designs.read_x_mailha([base, only]) == {"design": "mine"}


def test_tags_in_a_first_file_or_in_new_keys_leave_no_markers(tmp_path):
    f = write(tmp_path, "f.yml", "x-mailha:\n  a: {b: !reset null, c: !override [1]}\n  l: [1, !reset null, 2]\n")
    assert designs.read_x_mailha([f]) == {"a": {"c": [1]}, "l": [1, 2]}


def test_ready_extra_runs_before_the_first_protocol_check_of_its_service():
    meta = {"ready": [{"service": "ldap", "proto": "ldap"}, {"service": "be1", "proto": "imap"},
                      {"service": "be1", "proto": "smtp"}, {"proto": "imap", "host": "10.0.0.200"}],
            "ready_extra": {"be1-provisioned": {"service": "be1", "proto": "exec", "cmd": "test -e /p"},
                            "client-running": {"service": "client", "proto": "exec", "cmd": "true"}}}
    order = [(c.get("service"), c["proto"], c.get("name")) for c in designs.ready_checks(meta)]
    assert order == [("ldap", "ldap", None), ("be1", "exec", "be1-provisioned"), ("be1", "imap", None),
                     ("be1", "smtp", None), (None, "imap", None), ("client", "exec", "client-running")]
    assert [c["proto"] for c in designs.ready_checks(meta, ["be1"])] == ["exec", "imap", "smtp"]


def test_the_mirror_waits_as_before_and_a_user_drops_its_sdbox_check_without_restating_ready(tmp_path):
    base = designs.compose_file("mirror")
    checks = designs.ready_checks(designs.read_x_mailha([base]))
    # the replicated-mailbox check still runs before B's first protocol check
    i = next(k for k, c in enumerate(checks) if c["proto"] == "exec")
    assert checks[i]["service"] == "mirror-b" and "sdbox" in checks[i]["cmd"]
    assert checks[i + 1] == {"service": "mirror-b", "proto": "imap", "host": "10.231.0.12"}
    assert all(c["proto"] != "exec" for c in designs.read_x_mailha([base])["ready"])  # protocols only
    mdbox = write(tmp_path, "mdbox.yml", "x-mailha:\n  ready_extra:\n    mirror-b-replicated: !reset null\n")
    after = designs.ready_checks(designs.read_x_mailha([base, mdbox]))
    assert [c for c in checks if c["proto"] != "exec"] == after


def test_the_proxy_back_ends_are_provisioned_before_anyone_logs_in():
    checks = designs.ready_checks(designs.read_x_mailha([designs.compose_file("proxy")]))
    for be in ("be1", "be2"):
        mine = [c for c in checks if c.get("service") == be]
        assert mine[0]["proto"] == "exec" and mine[0]["cmd"] == "test -e /run/mailha/provisioned", mine


@pytest.mark.skipif(not shutil.which("docker"), reason="needs the docker CLI with the compose plugin")
def test_compose_itself_accepts_a_cap_add_reset_on_a_mirror_node_and_so_do_we(tmp_path):
    """The real check: ``docker compose config`` (what ``mailha up``'s config step runs; no
    engine needed) accepts ``cap_add: !reset []`` on mirror-b and drops the capability; mailha
    reads the same file's x-mailha block."""
    over = write(tmp_path, "no-net-admin.yml",
                 "services:\n  mirror-b:\n    cap_add: !reset []\n"
                 "x-mailha:\n  ready_extra:\n    mirror-b-replicated: !reset null\n")
    r = subprocess.run(["docker", "compose", "-p", "mailha-tagcheck", "-f", str(designs.compose_file("mirror")),
                        "-f", str(over), "config"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "is not a docker command" in r.stderr:
        pytest.skip("no compose plugin")
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    assert "cap_add" not in cfg["services"]["mirror-b"] and cfg["services"]["mirror-a"]["cap_add"] == ["NET_ADMIN"]
    meta = designs.read_x_mailha([designs.compose_file("mirror"), over])
    assert "ready_extra" in meta and "mirror-b-replicated" not in meta["ready_extra"]
    assert meta["nodes"]["mirror-b"]["lan"] == "10.231.0.12"  # the rest of the block is layered, not replaced
