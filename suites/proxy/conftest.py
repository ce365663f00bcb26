"""Fixtures of the design IV (domain split through proxies) suite: certifiers on the reference
cluster and its broken variants."""
import pytest


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference cluster (compose/proxy.yml plus any --mailha-override), shared
    while it stays clean: a test that grows it marks it dirty and the next test gets a fresh one."""
    return certifier("proxy")


@pytest.fixture
def variant(certifier):
    """``variant("route-by-container-name")`` -> a Certifier on the cluster with that broken override."""
    return lambda name: certifier("proxy", variant=name)
