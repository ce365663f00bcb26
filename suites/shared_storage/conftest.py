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


#: Design III's whole suite runs ~20 minutes against an 8-minute budget (docs/shared-storage.md): the
#: README's test command runs its steady test (every protocol, load shared, symmetric) — so every
#: design is in it — and the rest runs when the suite is named, `pytest suites/shared_storage`.
NAMED_ONLY = ("design III's suite runs when it is named ('pytest suites/shared_storage'): it takes ~20 min, "
              "and the README's test command runs its steady test only (docs/shared-storage.md)")

#: what the README's test command runs of design III
ALWAYS = ("test_every_protocol_works_and_load_is_shared_over_the_three_servers",)


def pytest_collection_modifyitems(config, items):
    skip_unless_named(config, items, "suites/shared_storage", NAMED_ONLY, keep=ALWAYS)
