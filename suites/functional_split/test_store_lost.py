"""Data redundancy: the store's disk is lost. The design keeps one copy of the mail, so the
acknowledged mail it held is gone — the sheet's "No (but can be added using mirroring)",
measured: the report shows it as a limitation confirmed."""
import pytest

from . import scenarios


@pytest.mark.claim("functional_split", "data_redundancy")
def test_the_stores_disk_is_lost_and_the_mail_it_held_with_it(cert):
    scenarios.store_lost(cert).assert_claims_hold()
