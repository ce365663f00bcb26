"""Fixtures of the design I (mirror) suite: the reference cluster and per-test certifiers."""
import pytest

from harness.certification import Certifier


@pytest.fixture
def mirror(cluster_for):
    """The reference mirror (compose/mirror.yml plus any --mailha-override), shared by the suite;
    asked for per test so that a cluster a test left damaged is replaced, not inherited."""
    return cluster_for("mirror")


@pytest.fixture
def cert(mirror, mailha_session, checks, evidence, request):
    return Certifier(design="mirror", cluster=mirror, session=mailha_session, checks=checks,
                     evidence=evidence, nodeid=request.node.nodeid)


@pytest.fixture
def variant(cluster_for, mailha_session, checks, evidence, request):
    """``variant("replication-off")`` -> a Certifier on the mirror with that broken override."""
    def make(name: str) -> Certifier:
        cluster = cluster_for("mirror", overrides=[f"mirror/{name}.yml"])
        return Certifier(design="mirror", cluster=cluster, session=mailha_session, checks=checks,
                         evidence=evidence, nodeid=request.node.nodeid, variant=name)
    return make
