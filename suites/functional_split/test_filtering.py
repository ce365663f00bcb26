"""Spam and virus filtering on the two front ends: GTUBE and EICAR refused with a permanent code
by either filter and never delivered, clean mail delivered; with clamd, rspamd or both dead on a
filter every message to it is deferred (4xx), never let through unscanned."""
import pytest

from . import scenarios


@pytest.mark.claim("functional_split", "spam_virus_filtering", "smtp")
def test_spam_and_viruses_are_refused_and_a_dead_scanner_defers_mail(cert):
    scenarios.filtering(cert).assert_claims_hold()
