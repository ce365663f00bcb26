"""Design V in steady state, end to end through the sheet's path: mail from outside → LVS1 → ECM →
SMTP delivery → LVS3 → front ends on the NAS; IMAP and POP through LVS3; webmail through LVS1 →
Roundcube → LVS3. Every protocol works and serves throughout, each tier shares its load, and the
ECM tier stops spam and viruses."""
import pytest

from . import scenarios


@pytest.mark.claim("high_end", "smtp", "pop", "imap", "webmail", "load_sharing", "load_shared", "processing_redundancy")
def test_every_protocol_works_through_the_sheets_path_and_every_tier_shares_its_load(cert):
    scenarios.basic(cert).assert_claims_hold()


@pytest.mark.claim("high_end", "spam_virus_filtering", "smtp")
def test_spam_and_viruses_are_stopped_at_the_ecm_tier_and_a_dead_scanner_defers_mail(cert):
    scenarios.filtering(cert).assert_claims_hold()
