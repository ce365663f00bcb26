"""Proof that the shared-storage suite can fail: each deliberately broken cluster
(compose/overrides/shared_storage/) runs the scenario of the claim it breaks, and that claim must
come out below the seed's claim. These clusters never count for the claims matrix."""
import functools

import pytest

from . import scenarios

VARIANTS = [
    # override file, the scenario that exposes it, the claims it must break
    ("default-caches", scenarios.cross_server, ("symmetric",)),
    # a hang held 20 s: with 1 in 3 connections hanging, that is ~7 s of lost service, more than
    # one 'stops responding' gap (5 s) allows; the reference takes the server out within ~3 s
    ("tcp-health-check", functools.partial(scenarios.daemon_fails, daemon="dovecot-hang", hold=20.0),
     ("processing_redundancy",)),
    ("one-storage-node", functools.partial(scenarios.storage_lost, target="nas1"), ("data_redundancy",)),
]


@pytest.mark.slow
@pytest.mark.design("shared_storage")
@pytest.mark.parametrize("name,scenario,breaks", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_broken_shared_storage_is_caught_with_the_claim_it_breaks(variant, name, scenario, breaks):
    outcome = scenario(variant(name))
    outcome.assert_caught(*breaks)
