"""Fixtures of the design IV (domain split through proxies) suite: the reference cluster and
per-test certifiers."""
import pytest

from harness.certification import Certifier


@pytest.fixture
def cert(cluster_for, mailha_session, checks, evidence, request):
    """A Certifier on the reference cluster (compose/proxy.yml plus any --mailha-override), shared
    while it stays clean: a test that grows it marks it dirty and the next test gets a fresh one."""
    return Certifier(design="proxy", cluster=cluster_for("proxy"), session=mailha_session, checks=checks,
                     evidence=evidence, nodeid=request.node.nodeid)


@pytest.fixture
def variant(cluster_for, mailha_session, checks, evidence, request):
    """``variant("route-by-container-name")`` -> a Certifier on the cluster with that broken override."""
    def make(name: str) -> Certifier:
        cluster = cluster_for("proxy", overrides=[f"proxy/{name}.yml"])
        return Certifier(design="proxy", cluster=cluster, session=mailha_session, checks=checks,
                         evidence=evidence, nodeid=request.node.nodeid, variant=name)
    return make
