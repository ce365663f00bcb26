"""Design II combined with mirroring (compose/functional_split/mirrored-store.yml): "this removes
the single point of failure (with associated mail data loss)" — the primary store node and its
disk are lost, and the other takes over with no acknowledged mail lost beyond the recovery point."""
import pytest

from . import scenarios


@pytest.mark.claim("functional_split", "combine_with_mirror", "smtp", "pop", "imap", "webmail")
def test_with_a_mirrored_store_losing_a_store_node_loses_no_mail(mirrored):
    scenarios.store_lost_with_mirror(mirrored).assert_claims_hold()
