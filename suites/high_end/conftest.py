"""Fixtures of the design V (high end) suite: certifiers on the reference cluster and its broken
variants."""
import pytest


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference high-end cluster (compose/high_end.yml plus any --mailha-override)."""
    return certifier("high_end")


@pytest.fixture
def variant(certifier):
    """``variant("single-directory")`` -> a Certifier on the cluster with that broken override."""
    return lambda name: certifier("high_end", variant=name)
