"""Design I after an outage: "if one system goes down for maintenance, it will auto-resync when it
comes back online" — and what survives when a server's disk is lost."""
import pytest

from . import scenarios


@pytest.mark.claim("mirror", "auto_resync")
def test_server_back_from_a_one_minute_maintenance_resyncs_by_itself(cert):
    scenarios.maintenance_resync(cert, outage=60).assert_claims_hold()


@pytest.mark.parametrize("which", ["vip-holder", "not-vip-holder"])
@pytest.mark.claim("mirror", "data_redundancy")
def test_server_with_a_lost_disk_is_rebuilt_and_loses_only_mail_inside_the_recovery_point(cert, which):
    # both servers accept mail (each holds one MX address), so either can hold mail not yet replicated
    scenarios.wipe(cert, which, rpo=cert.thresholds["rpo_s"]).assert_claims_hold()
