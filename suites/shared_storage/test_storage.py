"""Design III's NAS, two mirrored GlusterFS storage nodes: "data redundancy (by adding mirroring
in NAS/SAN)". A storage node killed or hung (the service continues on its mirror; the stall is
the longest gap), the whole NAS hung longer than the clients' ping-timeout (temporary errors only,
nothing lost or bounced, every user served again within the bound once it is back, every mount
alive), and a storage node's disk lost and replaced empty (nothing acknowledged lost, the mirror
heals; the heal time is measured)."""
import pytest

from harness.certification import ExpectedDisagreement

from . import scenarios


@pytest.mark.parametrize("target", ["nas1", "nas2"])
@pytest.mark.claim("shared_storage", "processing_redundancy", "symmetric", "smtp", "pop", "imap", "webmail")
def test_a_storage_node_dies_and_service_continues_on_its_mirror(cert, target):
    scenarios.node_fails(cert, "kill", target).assert_claims_hold()


#: measured on the reference (docs/shared-storage.md, `…-ac7c`), as on design V: a storage node that
#: hangs (frozen, its kernel still accepting TCP) holds every mail server's I/O on the volume — the
#: replica's writes wait for it; GlusterFS gives a node up only after network.ping-timeout (10 s here;
#: 42 s by default; lower turns this host's 1-2 s disk stalls into disconnects). Frozen 8 s, IMAP and
#: POP3 through the VIP stopped 17.7 / 16.7 s: longer than the 5-s 'stops responding' bound.
NAS_HANG = ("a hung GlusterFS storage node stalls every mail server's I/O on the shared volume (the replica "
            "waits up to network.ping-timeout, 10 s): IMAP/POP3 stopped ~17 s, longer than the 5-s bound")


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=NAS_HANG)
@pytest.mark.claim("shared_storage", "processing_redundancy", "symmetric", "smtp", "pop", "imap", "webmail")
def test_a_storage_node_hangs_and_service_continues_on_its_mirror(cert):
    scenarios.node_fails(cert, "nas-stall", "nas2").assert_claims_hold({"processing_redundancy": NAS_HANG})


#: measured on the reference (docs/shared-storage.md, `…-b215`, `…-08cf`): the whole NAS frozen 15 s —
#: 0 acknowledged lost (166, 440), 0 bounced, every mount alive, only temporary errors and timeouts while
#: it was away — but users were served again only 13-100 s after both storage nodes answered (bound 10 s):
#: the FUSE clients reconnect within ~1.5 s, then the deferred deliveries of three servers' queues and the
#: sessions that waited resume together on the same few mailboxes, each holding its index lock over the
#: uncached volume (LMTP deliveries of 9-16 s each; IMAP/POP3 logins of some users timing out for 100 s)
NAS_RETURN = ("after the whole NAS hung 15 s (0 lost, 0 bounced), users were served again only 13-100 s after it "
              "returned (bound 10 s): the deferred deliveries and waiting sessions contend for the same mailboxes' "
              "index locks over the uncached volume")


@pytest.mark.xfail(strict=True, raises=ExpectedDisagreement, reason=NAS_RETURN)
@pytest.mark.claim("shared_storage", "data_redundancy", "processing_redundancy", "smtp", "pop", "imap", "webmail")
def test_the_whole_nas_hangs_and_service_returns_after_it_with_nothing_lost_or_bounced(cert):
    scenarios.storage_outage(cert, [("nas-stall", "nas1"), ("nas-stall", "nas2")], "nas-stall-all") \
        .assert_claims_hold({"processing_redundancy": NAS_RETURN})


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
