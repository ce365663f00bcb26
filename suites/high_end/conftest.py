"""Fixtures of the design V (high end) suite: certifiers on the reference cluster and its broken
variants."""
import pytest

from harness.plugin import skip_unless_named


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference high-end cluster (compose/high_end.yml plus any --mailha-override)."""
    return certifier("high_end")


@pytest.fixture
def variant(certifier):
    """``variant("single-directory")`` -> a Certifier on the cluster with that broken override."""
    return lambda name: certifier("high_end", variant=name)


#: the brick wipe (test_storage.py) takes ~5 minutes that the README's test command does not have
#: (docs/benchmarks.md): it runs when the suite is named — `pytest suites/high_end`, `mailha certify
#: high_end` — and is left out of a bare `pytest` / `make test`
NAMED_ONLY = ("design V's storage-loss test runs when the suite is named ('pytest suites/high_end'): "
              "the README's test command has no time for its ~5 minutes")


#: the broken-variant proofs: five clusters of their own, ~10 minutes (fresh clone of f33d143: V's suite
#: 23.8 min of the README command's 56.9) — run when the suite is named, as design III's whole suite
VARIANTS_NAMED_ONLY = ("design V's broken-variant proofs run when the suite is named ('pytest suites/high_end', "
                       "'mailha certify high_end'): the README's test command has no time for their ~10 minutes")


#: the two Switch1 cuts (~3.5 minutes; docs/high-end.md)
SWITCHES_NAMED_ONLY = ("design V's switch faults run when the suite is named ('pytest suites/high_end'): the "
                       "README's test command has no time for their ~3.5 minutes")


def pytest_collection_modifyitems(config, items):
    skip_unless_named(config, items, "suites/high_end", NAMED_ONLY, under="suites/high_end/test_storage.py")
    skip_unless_named(config, items, "suites/high_end", SWITCHES_NAMED_ONLY, under="suites/high_end/test_switches.py")
    skip_unless_named(config, items, "suites/high_end", VARIANTS_NAMED_ONLY, under="suites/high_end/test_variants.py")
