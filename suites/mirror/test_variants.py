"""Proof that the mirror suite can fail: each deliberately broken mirror (compose/overrides/mirror/)
runs the scenario of the claim it breaks, and that claim must come out below the seed's claim.
These clusters never count for the claims matrix (their results go to variants.json)."""
import pytest

from . import scenarios

VARIANTS = [
    # override file, the scenario that exposes it, the claims it must break
    ("replication-off", scenarios.read_either, ("read_either",)),
    ("one-way-replication", scenarios.read_either, ("read_either",)),
    ("no-health-check", scenarios.daemon_dies, ("single_active",)),
    ("heartbeat-over-crossover", scenarios.crossover_cut, ("watchdog", "single_active")),
    ("bounce-when-delivery-down", scenarios.deferred_not_bounced, ("data_redundancy", "smtp")),
    ("second-mx-gated", scenarios.mail_in_at_the_second_mx, ("read_either",)),
]


@pytest.mark.slow
@pytest.mark.design("mirror")
@pytest.mark.parametrize("name,scenario,breaks", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_broken_mirror_is_caught_with_the_claim_it_breaks(variant, name, scenario, breaks):
    outcome = scenario(variant(name))
    outcome.assert_caught(*breaks)
