"""Fixtures of the design III (shared storage) suite: certifiers on the reference cluster and its
broken variants."""
import pytest

from harness.plugin import skip_unless_named


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference cluster (compose/shared_storage.yml plus any --mailha-override),
    shared while it stays clean."""
    return certifier("shared_storage")


@pytest.fixture
def variant(certifier):
    """``variant("default-caches")`` -> a Certifier on the cluster with that broken override."""
    return lambda name: certifier("shared_storage", variant=name)


#: Design III is not certified yet (docs/shared-storage.md): its suite runs ~18 minutes against an
#: 8-minute budget, and the NAS pause, whole-NAS stall, cross-server IDLE and the 100 000-user load
#: are not in it. Until then it is not part of the README's test command: run it by naming it.
NOT_YET = ("design III (shared storage) is not certified yet: its suite takes ~18 min and misses NAS stalls, "
           "IDLE and scale (docs/shared-storage.md); run it with 'pytest suites/shared_storage'")


def pytest_collection_modifyitems(config, items):
    skip_unless_named(config, items, "suites/shared_storage", NOT_YET)
