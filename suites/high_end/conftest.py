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


#: the brick wipe (test_storage.py) takes ~5 minutes that the README's test command does not have
#: (docs/benchmarks.md): it runs when the suite is named — `pytest suites/high_end`, `mailha certify
#: high_end` — and is left out of a bare `pytest` / `make test`
NAMED_ONLY = ("design V's storage-loss test runs when the suite is named ('pytest suites/high_end'): "
              "the README's test command has no time for its ~5 minutes")


def pytest_collection_modifyitems(config, items):
    if any("suites/high_end" in str(a) for a in config.args):
        return
    for item in items:
        if "suites/high_end/test_storage.py" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.skip(reason=NAMED_ONLY))
