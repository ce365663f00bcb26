"""Design V's NAS ("NetApp"), two mirrored GlusterFS storage nodes: "data redundancy: Yes
(SAN/NAS)". A storage node's disk lost and replaced empty: nothing acknowledged lost, the service
continues on the other storage node, the mirror heals (time measured). Design III's scenario,
imported: the NAS is the same role with the same settings (client-side heals off here)."""
import pytest

from harness.certification import ExpectedDisagreement
from suites.shared_storage.scenarios import storage_lost
from suites.shared_storage.test_storage import HEAL_EACCES


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=HEAL_EACCES)
@pytest.mark.claim("high_end", "data_redundancy", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_a_storage_node_loses_its_disk_and_nothing_acknowledged_is_lost(cert):
    storage_lost(cert, "nas2").assert_claims_hold({"processing_redundancy": HEAL_EACCES})
