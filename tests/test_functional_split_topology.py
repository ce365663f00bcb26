"""Design II's x-mailha block (compose/functional_split.yml) says what its suite relies on: one
data node (the store), tiers filter / webmail / lb, the filters' scanner daemons, the store
judged by placement "each", and chaos claims that exist."""
from types import SimpleNamespace

from harness import judgements
from harness.designs import compose_file, read_x_mailha
from harness.topology import Topology


def topo() -> Topology:
    meta = read_x_mailha([compose_file("functional_split")])
    return Topology(SimpleNamespace(meta=meta, design="functional_split"))


def test_one_store_holds_every_user_and_is_the_only_data_node():
    t = topo()
    assert [n.name for n in t.data_nodes()] == ["store"]
    assert judgements.placement(t) == {"require": "each", "nodes": ["store"]}


def test_tiers_and_what_each_node_serves():
    t = topo()
    assert judgements.tiers(t) == {"lb": ["lb1", "lb2"], "filter": ["filter1", "filter2"], "store": ["store"],
                                   "webmail": ["webmail1", "webmail2"]}
    assert t.serves("filter1")["proto"] == "smtp" and t.serves("webmail2")["proto"] == "http"
    assert t.serves("lb1") == {"host": "10.237.0.5", "proto": "http", "port": 8404, "path": "/healthz", "expect": "ok"}
    assert t.serves("store")["proto"] == "imap"


def test_daemon_faults_reach_the_scanners_and_every_mta_queue_is_drained():
    t = topo()
    assert t.daemons_of("filter1") == ["clamd", "rspamd", "scanners", "postfix"]
    assert t.daemons_of("store") == ["dovecot", "postfix"]
    assert t.daemons_of("webmail1") == [] and t.daemons_of("lb1") == []
    for d in ("clamd", "rspamd", "scanners", "postfix", "dovecot"):
        assert set(t.daemon(d)) == {"kill", "start", "status"}
    # Scenario.drain_queues waits for every node that runs postfix: both filters and the store
    assert [n for n in t.node_names if "postfix" in t.daemons_of(n)] == ["filter1", "filter2", "store"]


def test_mail_comes_in_by_two_mx_addresses_and_chaos_claims_exist():
    t = topo()
    assert t.mx() == [("10.237.0.11", 25), ("10.237.0.12", 25)]
    assert judgements.chaos_rules(t) == {"no_loss": "smtp", "availability": "processing_redundancy"}
