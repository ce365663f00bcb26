"""Smoke test of the ldap role image (OpenLDAP slapd 2.5), started alone.

Checks what the designs rely on: the base DN and admin, the default users with their
mail routing attributes, anonymous read of mail/mailHost (Dovecot's auth_bind), the
indexes, runtime adds by the admin, and that a killed + restarted container keeps its
data and answers again quickly.
"""
from __future__ import annotations

import time

import ldap3
import pytest

from harness.containers import READY, role_container

BASE = "dc=example,dc=test"
PEOPLE = f"ou=people,{BASE}"
ADMIN = f"cn=admin,{BASE}"
ADMIN_PW = "secret"
DEFAULT_USERS = [f"user{i}@example.test" for i in range(1, 5)]


def connect(host: str, user: str | None = None, password: str | None = None, timeout: int = 2) -> ldap3.Connection:
    server = ldap3.Server(host, port=389, connect_timeout=timeout, get_info=ldap3.NONE)
    # ldap3 packs receive_timeout into SO_RCVTIMEO with struct 'LL': a float raises
    # "required argument is not an integer" once connected.
    conn = ldap3.Connection(server, user=user, password=password, receive_timeout=int(timeout), raise_exceptions=False)
    if not conn.bind():
        raise ConnectionError(f"bind as {user or 'anonymous'} failed: {conn.result}")
    return conn


#: ready: the admin binds and reads the base entry (harness.readiness.ldap)
ADMIN_READY = READY["ldap"]
assert ADMIN_READY[0]["bind_dn"] == ADMIN and ADMIN_READY[0]["base"] == BASE


def mails(conn: ldap3.Connection, flt: str = "(mail=*)", attrs=("mail", "mailHost")) -> dict[str, dict]:
    assert conn.search(PEOPLE, flt, attributes=list(attrs)), f"search {flt} under {PEOPLE} failed: {conn.result}"
    return {str(e.mail.value): {a: e[a].values for a in attrs} for e in conn.entries}



@pytest.fixture(scope="module")
def ldap():
    with role_container("ldap", timeout=30) as c:  # ready: an admin bind + base search
        yield c


def test_default_users_answer_with_routing_attributes(ldap):
    conn = connect(ldap.ip, ADMIN, ADMIN_PW)
    found = mails(conn, attrs=("mail", "mailHost", "uid", "objectClass", "userPassword"))
    for m in DEFAULT_USERS:
        assert m in found, f"default user {m} missing; the directory holds {sorted(found)}"
        e = found[m]
        assert e["mailHost"] == ["127.0.0.1"], f"{m}: mailHost {e['mailHost']}, expected ['127.0.0.1']"
        classes = {c.lower() for c in e["objectClass"]}
        assert {"inetorgperson", "inetlocalmailrecipient"} <= classes, f"{m}: objectClass {e['objectClass']}"
        pw = e["userPassword"][0]
        pw = pw.decode() if isinstance(pw, bytes) else pw
        assert pw.startswith("{SSHA}"), f"{m}: admin should read a hashed {{SSHA}} password, got {pw[:12]!r}"


def test_users_bind_with_their_passwords(ldap):
    dn = f"uid=user2,{PEOPLE}"
    conn = connect(ldap.ip, dn, "pw-user2")
    assert conn.extend.standard.who_am_i() == f"dn:{dn}"
    bad = ldap3.Connection(ldap3.Server(ldap.ip, get_info=ldap3.NONE), user=dn, password="wrong")
    assert not bad.bind(), "a bind with a wrong password succeeded"
    assert bad.result["description"] == "invalidCredentials", f"wrong password answered {bad.result}"


def test_anonymous_reads_routing_but_not_passwords(ldap):
    conn = connect(ldap.ip)
    found = mails(conn, "(mail=user1@example.test)", attrs=("mail", "mailHost", "userPassword"))
    assert list(found) == ["user1@example.test"], f"anonymous search for user1 returned {sorted(found)}"
    assert found["user1@example.test"]["mailHost"] == ["127.0.0.1"]
    assert found["user1@example.test"]["userPassword"] == [], "anonymous must not read userPassword"


def test_schema_and_equality_indexes(ldap):
    r = ldap.exec("ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b 'olcDatabase={1}mdb,cn=config' -s base olcDbIndex olcSuffix")
    assert r.ok, f"ldapsearch of cn=config failed: {r.err}"
    indexes = {line.split(":", 1)[1].strip() for line in r.out.splitlines() if line.startswith("olcDbIndex:")}
    for attr in ("mail", "mailHost", "uid"):
        assert f"{attr} eq" in indexes, f"no equality index on {attr}; olcDbIndex is {sorted(indexes)}"
    assert "olcSuffix: dc=example,dc=test" in r.out, r.out
    r = ldap.exec("ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b cn=schema,cn=config '(cn=*misc)' dn")
    assert "misc,cn=schema,cn=config" in r.out, f"misc schema not loaded; cn=schema holds: {r.out or r.err}"


def test_runtime_add_survives_kill_and_start(ldap, note):
    note("ldap first start to ready (after docker run returned)", ldap.ready_s, "s")
    admin = connect(ldap.ip, ADMIN, ADMIN_PW)
    dn = f"uid=runtime,{PEOPLE}"
    ok = admin.add(dn, ["inetOrgPerson", "inetLocalMailRecipient"],
                   {"uid": "runtime", "cn": "Runtime", "sn": "Added", "mail": "runtime@example.test",
                    "mailHost": "10.9.9.9", "userPassword": "pw-runtime"})
    assert ok, f"admin could not add {dn}: {admin.result}"
    assert mails(connect(ldap.ip), "(mail=runtime@example.test)")["runtime@example.test"]["mailHost"] == ["10.9.9.9"]

    ldap.kill()
    t0 = time.monotonic()
    ldap.start_again()
    started = time.monotonic() - t0
    ready = started + ldap.wait_ready(timeout=30, interval=0.05, check_timeout=1)  # as fine-grained as before
    note("ldap docker start to ready after docker kill", ready, "s",
           f"(docker start itself {started:.3f} s; load {open('/proc/loadavg').read().split()[0]})")

    found = mails(connect(ldap.ip))
    missing = [m for m in DEFAULT_USERS + ["runtime@example.test"] if m not in found]
    assert not missing, f"after kill + start these entries were gone: {missing}; found {sorted(found)}"
    assert connect(ldap.ip, dn, "pw-runtime"), "the runtime user cannot bind after the restart"
    logs = ldap.logs()
    assert logs.count("first start: seeding") == 1, f"the seed ran {logs.count('first start: seeding')} times:\n{logs[-2000:]}"
    assert ready < 10, f"restart to ready took {ready:.1f} s; expected a fast start with no re-seeding"


def test_stop_is_clean(ldap):
    t0 = time.monotonic()
    ldap.docker_stop()
    took = time.monotonic() - t0
    code = ldap.state()["ExitCode"]
    assert took < 5 and code == 0, f"docker stop took {took:.1f} s with exit code {code}:\n{ldap.logs()[-1500:]}"
    assert "TERM: stopping slapd" in ldap.logs()


def test_mounted_seed_replaces_default_and_reports_bad_entries(tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "10-people.ldif").write_text(
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"  # repeated: must be skipped, not fatal
        f"dn: uid=alice,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\n"
        "uid: alice\ncn: Alice\nsn: A\nmail: alice@a.example\nmailHost: 10.1.2.3\nuserPassword: pw-alice\n")
    (seed / "20-bad.ldif").write_text(  # mailHost without inetLocalMailRecipient: a schema violation
        f"dn: uid=bad,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: bad\ncn: Bad\nsn: B\nmailHost: 10.1.2.4\n")
    seed.chmod(0o755)
    with role_container("ldap", volumes=[f"{seed}:/seed:ro"], timeout=30) as c:
        found = mails(connect(c.ip))
        assert list(found) == ["alice@a.example"], f"expected only the mounted user alice, found {sorted(found)}"
        logs = c.logs()
        assert "ERROR: seeding /seed/20-bad.ldif failed" in logs and "mailHost' not allowed" in logs, \
            f"the schema violation in 20-bad.ldif was not reported loudly:\n{logs[:2000]}"
        assert "ERROR: seeding /seed/10-people.ldif" not in logs, f"a repeated ou=people was reported as an error:\n{logs[:2000]}"
