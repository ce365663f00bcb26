"""Proof that the functional-split suite can fail: each deliberately broken cluster
(compose/overrides/functional_split/) runs the scenario of the claim it breaks, and that claim
must come out below the seed's claim. These clusters never count for the claims matrix (their
results go to variants.json)."""
import functools

import pytest

from . import scenarios

VARIANTS = [
    # override file, the scenario that exposes it, the claims it must break
    ("antivirus-fail-open", scenarios.filtering, ("spam_virus_filtering",)),
    ("milter-accept", scenarios.filtering, ("spam_virus_filtering",)),
    ("bounce-when-store-down", functools.partial(scenarios.store_down, fault="stop"), ("filters_accept_when_store_down",)),
    ("webmail-not-sticky", scenarios.webmail_via_imap, ("webmail",)),
]


@pytest.mark.slow
@pytest.mark.design("functional_split")
@pytest.mark.parametrize("name,scenario,breaks", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_broken_functional_split_is_caught_with_the_claim_it_breaks(variant, name, scenario, breaks):
    outcome = scenario(variant(name))
    outcome.assert_caught(*breaks)
