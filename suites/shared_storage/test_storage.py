"""Design III's NAS, two mirrored GlusterFS storage nodes: "data redundancy (by adding mirroring
in NAS/SAN)". A storage node killed (the service continues on its mirror; the stall is the
longest gap), and a storage node's disk lost and replaced empty (nothing acknowledged lost, the
mirror heals; the heal time is measured)."""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios


@pytest.mark.parametrize("target", ["nas1", "nas2"])
@pytest.mark.claim("shared_storage", "processing_redundancy", "symmetric", "smtp", "pop", "imap", "webmail")
def test_a_storage_node_dies_and_service_continues_on_its_mirror(cert, target):
    scenarios.node_fails(cert, "kill", target).assert_claims_hold()


#: measured on the reference (docs/shared-storage.md), and GlusterFS's own behaviour, not this
#: configuration's: a full self-heal of a replacement brick creates directories on it as root
#: before their owner is healed, and the brick refuses the mail user's writes there (EACCES,
#: gluster/glusterfs issues 3025 and 4266). While it heals, Dovecot cannot take its locks in the
#: affected mailboxes: POP3 and some IMAP logins fail for tens of seconds; deliveries are deferred
#: and delivered afterwards (nothing acknowledged is lost).
HEAL_EACCES = ("while a replaced GlusterFS brick heals, the new brick refuses the mail user's writes in "
               "directories not yet healed (EACCES, gluster/glusterfs#3025): POP3/IMAP of those mailboxes "
               "fail for longer than the 'stops responding' bound")


# Not an expected disagreement (yet): data_redundancy depends on how much mail the brick held. Run
# alone on a fresh cluster (400 messages) the replaced brick healed in 83 s (Yes); in the suite, after
# 16 tests (824 messages), 599 entries were still pending after 191 s and data_redundancy is No — the
# test then fails, an open finding (docs/shared-storage.md).
@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=HEAL_EACCES)
@pytest.mark.claim("shared_storage", "data_redundancy", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_a_storage_node_loses_its_disk_and_nothing_acknowledged_is_lost(cert):
    scenarios.storage_lost(cert, "nas2").assert_claims_hold({"processing_redundancy": HEAL_EACCES})
