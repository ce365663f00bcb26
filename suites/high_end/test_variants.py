"""Proof that the high-end suite can fail: each deliberately broken cluster
(compose/overrides/high_end/) runs the scenario of the claim it breaks, and that claim must come
out below the seed's claim. These clusters never count for the claims matrix."""
import functools

import pytest

from suites.shared_storage.scenarios import storage_lost

from . import scenarios

VARIANTS = [
    # override file, the scenario that exposes it, the claims it must break
    # a front end's Dovecot hung 20 s: with 1 in 3 connections hanging, longer than one
    # 'stops responding' gap allows; the reference takes the front end out within ~3 s
    ("tcp-health-check", functools.partial(scenarios.node_fails, fault="daemon-kill", target="fe2",
                                           daemon="dovecot-hang", hold=20.0), ("separate_tiers",)),
    # ECM scanners dead on ecm1 20 s, LVS1 checking only EHLO: half of the SMTP probes (a MAIL FROM
    # and RCPT TO: x-mailha.probes) get 451 — caught by the availability floor
    ("ecm-smtp-check-only", functools.partial(scenarios.node_fails, fault="daemon-kill", target="ecm1",
                                              daemon="scanners", hold=20.0), ("separate_tiers",)),
    ("single-directory", functools.partial(scenarios.node_fails, fault="kill", target="ldap1", hold=12.0),
     ("separate_tiers", "processing_redundancy")),
    ("nas-unmirrored", functools.partial(storage_lost, target="nas1"), ("data_redundancy",)),
    ("ecm-fail-open", scenarios.filtering, ("spam_virus_filtering",)),
]


@pytest.mark.slow
@pytest.mark.design("high_end")
@pytest.mark.parametrize("name,scenario,breaks", VARIANTS,
                         ids=[v.values[0] if hasattr(v, "values") else v[0] for v in VARIANTS])
def test_broken_high_end_is_caught_with_the_claim_it_breaks(variant, name, scenario, breaks):
    outcome = scenario(variant(name))
    outcome.assert_caught(*breaks)
