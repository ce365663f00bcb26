"""Fixtures of the design I (mirror) suite: certifiers on the reference cluster and its broken variants."""
import pytest


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference mirror (compose/mirror.yml plus any --mailha-override)."""
    return certifier("mirror")


@pytest.fixture
def mirror(cert):
    """The running reference mirror itself (for tests that drive it directly)."""
    return cert.cluster


@pytest.fixture
def variant(certifier):
    """``variant("replication-off")`` -> a Certifier on the mirror with that broken override."""
    return lambda name: certifier("mirror", variant=name)
