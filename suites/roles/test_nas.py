"""Smoke tests of the nas role image: GlusterFS over FUSE (default) and nfs-ganesha.

Each NAS is a testcontainers container on its own labelled network (harness.containers), ready
when glusterd (or the NFS server) answers an RPC call and ``nas-ready`` passes; client
containers are started from the same image on that network with the same run label, so the
teardown removes them (and their anonymous volumes) too.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from harness.containers import RoleContainer, role_container

FUSE_CLIENT = dict(cap_add=["SYS_ADMIN"], devices=["/dev/fuse"], ready=(), command=["sleep", "infinity"])
#: ready: glusterd answers an RPC call (the protocol), then ``nas-ready`` (the volume is started)
GLUSTER_READY = ({"proto": "rpc"}, {"proto": "exec", "cmd": "nas-ready"})


def nas_ready(env: dict | None = None) -> dict:
    """The ``nas-ready`` check, with the image's environment variables it needs (``NAS_VOLUME``…)."""
    envs = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    return {"proto": "exec", "cmd": f"{envs} nas-ready".strip()}


def client(nas: RoleContainer, name: str, **kw) -> RoleContainer:
    """A client container of the nas image on the NAS's network (no protocol of its own)."""
    opts = {**FUSE_CLIENT, **kw}
    return nas.run.start("nas", suffix=name, hostname=name, **opts)


def mount(client: RoleContainer, server: str, volume: str = "mail", mp: str = "/mnt/mail", backups: str = "") -> float:
    t0 = time.monotonic()
    r = client.sh(f"nas-mount {server} {volume} {mp} {backups}", timeout=90)
    assert r.ok, f"{client.name}: expected nas-mount {server} {volume} {mp} to succeed, got exit {r.rc}: {(r.err or r.out).strip()}"
    mounts = client.sh(f"grep ' {mp} ' /proc/mounts").out
    assert "fuse.glusterfs" in mounts, f"{client.name}: nas-mount said ok but /proc/mounts has {mounts!r}"
    return time.monotonic() - t0


# -- GlusterFS: one NAS, two FUSE clients -----------------------------------------------------
@pytest.fixture(scope="module")
def gluster():
    t0 = time.monotonic()
    with role_container("nas", cap_add=["SYS_ADMIN"], ready=GLUSTER_READY, timeout=120, interval=0.3) as nas:
        ready = nas.ready_s
        start_to_ready = time.monotonic() - t0
        c1 = client(nas, "client1")
        c2 = client(nas, "client2")
        yield {"nas": nas, "c1": c1, "c2": c2, "ready": ready, "start_to_ready": start_to_ready}


def test_gluster_volume_is_shared_by_two_fuse_clients(gluster, note):
    """A file written with fsync through one FUSE mount is read back through another."""
    nas, c1, c2 = gluster["nas"], gluster["c1"], gluster["c2"]
    note("gluster_start_to_ready_s", round(gluster["start_to_ready"], 2))
    note("gluster_run_to_ready_s", round(gluster["ready"], 2))
    note("mount_client1_s", round(mount(c1, nas.ip), 2))
    note("mount_client2_s", round(mount(c2, nas.ip), 2))

    token = uuid.uuid4().hex
    t0 = time.monotonic()
    w = c1.sh(f"printf %s {token} | dd of=/mnt/mail/smoke-{token} conv=fsync status=none")
    assert w.ok, f"write with fsync through client1 failed: {w.err.strip()}"
    note("write_fsync_s", round(time.monotonic() - t0, 3))
    r = c2.sh(f"cat /mnt/mail/smoke-{token}")
    assert r.ok and r.out == token, f"client2 expected to read {token!r}, got exit {r.rc}: {r.out!r} {r.err.strip()!r}"
    b = nas.sh(f"cat /bricks/mail/smoke-{token}")
    assert b.out == token, f"expected the file on the NAS brick /bricks/mail, got {b.out!r} {b.err.strip()!r}"


def test_gluster_volume_has_dovecot_safe_options(gluster):
    """The client caches that corrupted Dovecot's index (storage note, pitfall 1) are off."""
    nas = gluster["nas"]
    for opt in ("performance.write-behind", "performance.quick-read", "performance.stat-prefetch",
                "performance.open-behind", "performance.io-cache", "performance.read-ahead",
                "performance.readdir-ahead"):
        out = nas.sh(f"gluster --mode=script volume get mail {opt}").out
        assert f"{opt} " in out and " off" in out, f"expected {opt} off on volume mail, got: {out.strip()[-200:]}"
    mounts = gluster["c1"].sh("ps -o args= -C glusterfs").out
    for o in ("attribute-timeout=0", "entry-timeout=0", "negative-timeout=0"):
        assert o in mounts, f"expected the FUSE client to run with {o}; its command line: {mounts.strip()}"


def test_failed_fuse_mount_is_reported(gluster):
    """Without CAP_SYS_ADMIN `mount -t glusterfs` can exit 0; nas-mount must still fail."""
    nas = gluster["nas"]
    bad = client(nas, "nocap", cap_add=())
    r = bad.sh(f"NAS_MOUNT_TIMEOUT=3 nas-mount {nas.ip} mail /mnt/mail")
    assert r.rc != 0, f"expected nas-mount to fail without SYS_ADMIN, got exit 0: {r.out.strip()}"
    assert "not in /proc/mounts" in r.err, f"expected the /proc/mounts verdict in the error, got: {r.err.strip()}"


def test_gluster_pause_stalls_a_write_which_then_completes(gluster, note):
    """`docker pause` of the NAS for 3 s blocks a client's fsync'd write; it completes after unpause."""
    nas, c1, c2 = gluster["nas"], gluster["c1"], gluster["c2"]
    token = uuid.uuid4().hex
    cmd = (f"s=$(date +%s%N); printf %s {token} | dd of=/mnt/mail/pause-{token} conv=fsync status=none; "
           f"rc=$?; e=$(date +%s%N); echo $rc $(( (e - s) / 1000000 ))")
    nas.pause()
    paused = time.monotonic()
    done: list = []
    try:
        writer = threading.Thread(target=lambda: done.append(c1.sh(cmd, timeout=60)), daemon=True)
        writer.start()
        time.sleep(3)
        assert writer.is_alive(), f"expected the write to block while the NAS is paused; it ended: {done}"
    finally:
        nas.unpause()
    pause_len = time.monotonic() - paused
    writer.join(60)
    assert done, "the stalled write had not ended 60 s after unpause"
    out, err = done[0].out, done[0].err
    rc, ms = (out.split() + ["?", "?"])[:2]
    assert rc == "0", f"expected the stalled write to succeed after unpause, got rc {rc}: {err.strip()}"
    stall = int(ms) / 1000
    note("pause_s", round(pause_len, 2))
    note("write_stall_s", stall)
    assert stall >= 2.0, f"expected the write to stall about as long as the pause ({pause_len:.1f} s), it took {stall:.2f} s"
    r = c2.sh(f"cat /mnt/mail/pause-{token}")
    assert r.out == token, f"client2 expected {token!r} after the stall, got {r.out!r} {r.err.strip()!r}"


def test_gluster_kill_and_start_is_idempotent(gluster, note):
    """After `docker kill` + `docker start` the existing volume comes back and clients see the data."""
    nas, c2 = gluster["nas"], gluster["c2"]
    token = uuid.uuid4().hex
    assert gluster["c1"].sh(f"printf %s {token} | dd of=/mnt/mail/kill-{token} conv=fsync status=none").ok
    nas.kill()
    t0 = time.monotonic()
    nas.start_again()
    ready = nas.wait_ready(timeout=90, interval=0.3)
    note("gluster_restart_to_ready_s", round(ready, 2))
    # The entrypoint logs its verdict after `volume start force`, which may end after readiness.
    deadline = time.monotonic() + 30
    while True:
        text = nas.logs()
        if "volume mail exists; started" in text:
            break
        assert time.monotonic() < deadline, "expected the restart to reuse the existing volume ('volume mail exists; started')"
        time.sleep(0.5)
    assert text.count("volume mail created") == 1, "expected the volume to be created once, not again on restart"
    assert nas.address() == nas.ip, "the NAS came back on another address; clients cannot follow that"
    # The FUSE client reconnects by itself (every few seconds); the old mount must work again.
    deadline = time.monotonic() + 30
    while True:
        r = c2.sh(f"cat /mnt/mail/kill-{token}")
        if r.out == token:
            break
        assert time.monotonic() < deadline, f"client2 still cannot read after restart: {r.err.strip()}"
        time.sleep(0.5)
    note("client_back_after_start_s", round(time.monotonic() - t0, 2))


# -- GlusterFS: replica 2 across two NAS containers ------------------------------------------
def test_gluster_replica2_survives_one_nas_killed(note):
    """NAS_PEERS + NAS_CREATE=1 make a replica-2 volume; with one NAS killed the client still writes."""
    t0 = time.monotonic()
    rep = {"NAS_VOLUME": "rep"}
    # n2 starts first and waits to be probed (NAS_CREATE=0): only its glusterd answers yet
    with role_container("nas", cap_add=["SYS_ADMIN"], env={**rep, "NAS_CREATE": "0"}, ready=GLUSTER_READY[:1],
                        timeout=60) as n2:
        # n1 probes it and creates the volume
        n1 = n2.run.start("nas", suffix="nas1", hostname="nas1", cap_add=["SYS_ADMIN"],
                          env={**rep, "NAS_PEERS": n2.ip, "NAS_CREATE": "1"},
                          ready=(GLUSTER_READY[0], nas_ready(rep)), timeout=180, interval=0.3)
        ip1 = n1.ip
        n2.wait_ready([nas_ready(rep)], timeout=60, interval=0.3)
        note("replica2_start_to_ready_s", round(time.monotonic() - t0, 2))
        info = n1.sh("gluster --mode=script volume info rep").out
        assert "Number of Bricks: 1 x 2 = 2" in info, f"expected a replica-2 volume, got: {info.strip()}"
        c = client(n2, "client")
        mount(c, ip1, "rep", "/mnt/rep", backups=n2.ip)
        token = uuid.uuid4().hex
        assert c.sh(f"printf %s {token} | dd of=/mnt/rep/a-{token} conv=fsync status=none").ok
        for node in (n1, n2):
            got = node.sh(f"cat /bricks/rep/a-{token}").out
            assert got == token, f"expected the file on both bricks; {node.name} has {got!r}"
        n2.kill()
        t1 = time.monotonic()
        w = c.sh(f"printf %s {token} | dd of=/mnt/rep/b-{token} conv=fsync status=none && cat /mnt/rep/a-{token}")
        note("replica2_write_with_one_nas_killed_s", round(time.monotonic() - t1, 2))
        assert w.ok and w.out == token, f"expected writes and reads with one NAS killed, got exit {w.rc}: {w.err.strip()}"


# -- nfs-ganesha -------------------------------------------------------------------------------
def test_ganesha_serves_nfs_to_a_userspace_client(note):
    """NAS_BACKEND=ganesha answers NFSv3 and NFSv4 from libnfs (nfs-ls, nfs-cp both ways)."""
    env = {"NAS_BACKEND": "ganesha"}
    t0 = time.monotonic()
    # ready: the NFS server answers an RPC call to NFSv3 (program 100003) on 2049, then nas-ready
    nfs = ({"proto": "rpc", "port": 2049, "program": 100003, "version": 3}, nas_ready(env))
    with role_container("nas", env=env, cap_add=["SYS_ADMIN", "DAC_READ_SEARCH"], ready=nfs, timeout=60,
                        interval=0.3) as nas:
        note("ganesha_start_to_ready_s", round(time.monotonic() - t0, 2))
        c = client(nas, "nfsclient", cap_add=(), devices=())
        url = f"nfs://{nas.ip}/export"
        ls = c.sh(f"nfs-ls {url}")
        assert ls.ok, f"expected nfs-ls {url} to answer, got exit {ls.rc}: {ls.err.strip()}"
        token = uuid.uuid4().hex
        t1 = time.monotonic()
        cp = c.sh(f"head -c 1048576 /dev/urandom > /tmp/up && printf %s {token} >> /tmp/up && "
                   f"nfs-cp /tmp/up {url}/{token}.bin && nfs-cp {url}/{token}.bin /tmp/down && "
                   f"cmp /tmp/up /tmp/down && tail -c 32 /tmp/down")
        note("ganesha_1MiB_roundtrip_s", round(time.monotonic() - t1, 2))
        last = (cp.out.strip().splitlines() or [""])[-1]
        assert cp.ok and last == token, f"expected a 1 MiB round trip via nfs-cp, got exit {cp.rc}: {cp.err.strip()}"
        v4 = c.sh(f"nfs-ls '{url}?version=4'")
        assert f"{token}.bin" in v4.out, f"expected NFSv4 to list {token}.bin, got exit {v4.rc}: {v4.out.strip()} {v4.err.strip()}"
        on_disk = nas.sh(f"tail -c 32 /export/{token}.bin").out
        assert on_disk == token, f"expected the file under /export on the NAS, got {on_disk!r}"
