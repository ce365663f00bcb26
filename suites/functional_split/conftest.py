"""Fixtures of the design II (functional split) suite: certifiers on the reference cluster and
its broken variants."""
from pathlib import Path

import pytest


@pytest.fixture
def cert(certifier):
    """A Certifier on the reference functional split (compose/functional_split.yml plus any
    --mailha-override)."""
    return certifier("functional_split")


@pytest.fixture
def variant(certifier):
    """``variant("antivirus-fail-open")`` -> a Certifier on the cluster with that broken override."""
    return lambda name: certifier("functional_split", variant=name)


#: the store as design I's mirrored pair (an override of the reference, not a broken variant)
MIRRORED = Path(__file__).resolve().parents[2] / "compose" / "functional_split" / "mirrored-store.yml"


@pytest.fixture
def mirrored(cluster_for, mailha_session, checks, evidence, request):
    """A Certifier on the functional split combined with mirroring (compose/functional_split/
    mirrored-store.yml on top of the reference): its evidence counts for the design, as the
    seed's "can be combined with mirroring" claim is about this cluster.
    LOCAL ADAPTATION: the plugin's ``certifier`` knows only the reference and broken variants; a
    ``certifier(design, profile=FILE)`` would replace this fixture."""
    from harness.certification import Certifier

    cluster = cluster_for("functional_split", overrides=[str(MIRRORED)])
    return Certifier(design="functional_split", cluster=cluster, session=mailha_session, checks=checks,
                     evidence=evidence, nodeid=request.node.nodeid)
