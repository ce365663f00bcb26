"""Design III (shared storage) as the harness reads it from compose/shared_storage.yml: where mail
must be, the tiers, what each node serves and which faults fit it, the NAS heal count, and the
broken variants. No Docker."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from harness import designs, judgements
from harness.claims import catalogue
from harness.faults import CATALOGUE, Nemesis
from harness.history import History
from harness.topology import Topology
from suites.shared_storage import scenarios

ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ROOT / "compose" / "overrides" / "shared_storage"


def topo(files=()) -> Topology:
    meta = designs.read_x_mailha([designs.compose_file("shared_storage"), *files])
    return Topology(SimpleNamespace(meta=meta, design="shared_storage", container=lambda s: f"c-{s}", dirty=False))


def test_every_message_must_be_readable_through_every_mail_server():
    """The symmetry claim as the shared judgements read it: every mail server holds every user."""
    t = topo()
    assert judgements.placement(t) == {"require": "each", "nodes": ["ss1", "ss2", "ss3"]}
    assert scenarios.mail_servers(t) == ["ss1", "ss2", "ss3"]


def test_tiers_and_what_each_node_serves():
    t = topo()
    assert judgements.tiers(t) == {"lb": ["lb1", "lb2"], "mail": ["ss1", "ss2", "ss3"], "nas": ["nas1", "nas2"]}
    assert (t.serves("nas1")["proto"], t.serves("nas1")["port"], t.serves("nas1")["host"]) == ("rpc", 24007, "10.236.0.21")
    assert t.serves("ss2")["proto"] == "imap" and t.serves("lb1")["proto"] == "imap"
    assert t.kinds("nas2") == ("node", "nas") and t.kinds("lb1") == ("node", "lb")
    assert t.kinds("ss1") == ("node", "daemon")
    assert t.vips == ["10.235.0.200"] and t.meta["endpoints"]["imap"] == {"host": "10.235.0.200", "port": 143}


def test_a_brick_wipe_hits_storage_nodes_only():
    t = topo()
    n = Nemesis(t.cluster, t, History())
    f = CATALOGUE["brick-wipe"]
    assert n.target_problem(f, "nas1") is None
    assert "applies to nas targets" in n.target_problem(f, "ss1")
    assert not f.scheduled  # it loses data on purpose: scripted tests only


def test_the_daemon_faults_name_declared_daemons():
    t = topo()
    for d in scenarios.DAEMON_PROTOS:
        assert {"kill", "start", "status"} <= set(t.daemon(d))


def test_chaos_rules_name_claims_of_the_design():
    rules = judgements.chaos_rules(topo())
    assert rules["replicas"] == "symmetric" and rules["no_loss"] == "processing_redundancy"


@pytest.mark.parametrize("text,pending", [
    ("Brick 10.236.0.21:/bricks/mail\nStatus: Connected\nNumber of entries: 0\n\n"
     "Brick 10.236.0.22:/bricks/mail\nStatus: Connected\nNumber of entries: 0\n", 0),
    ("Brick a\nNumber of entries: 4\nBrick b\nNumber of entries: 2\n", 6),
    # a brick that is not connected has no count: not known, never 0
    ("Brick a\nStatus: Transport endpoint is not connected\nNumber of entries: -\nBrick b\nNumber of entries: 0\n", None),
    ("", None),
])
def test_heal_entries_counts_every_brick(text, pending):
    assert scenarios.heal_entries(text) == pending


def test_each_broken_variant_is_a_compose_override_naming_claims_of_the_design():
    from suites.shared_storage.test_variants import VARIANTS

    cat = catalogue()
    for name, _scenario, breaks in VARIANTS:
        doc = yaml.safe_load((OVERRIDES / f"{name}.yml").read_text())
        assert doc.get("services"), name
        for c in breaks:
            cat.get("shared_storage", c)  # raises for a claim the design does not have


def test_the_unmirrored_variant_leaves_one_brick():
    t = topo([OVERRIDES / "one-storage-node.yml"])
    ready = [c for c in t.meta["ready"] if c.get("cmd") == "nas-ready"]
    assert [c["service"] for c in ready] == ["nas1"]
