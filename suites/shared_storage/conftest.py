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


#: Design III's suite runs ~20 minutes against an 8-minute budget (docs/shared-storage.md), and its
#: steady test is not yet stable in the README's test command: in the fresh clone of 0f909ed, run
#: after 45 minutes of the other designs, 7 of 11 IMAP sessions broke and 60 of 340 POP3 probes timed
#: out with no fault (alone it passed). Until that is understood the whole suite runs when named,
#: `pytest suites/shared_storage`.
NAMED_ONLY = ("design III's suite runs when it is named ('pytest suites/shared_storage'): ~20 min, and its steady "
              "test is not yet stable after the other designs (docs/shared-storage.md)")

#: what the README's test command runs of design III (nothing, for now; see NAMED_ONLY)
ALWAYS: tuple[str, ...] = ()


def pytest_collection_modifyitems(config, items):
    skip_unless_named(config, items, "suites/shared_storage", NAMED_ONLY, keep=ALWAYS)
