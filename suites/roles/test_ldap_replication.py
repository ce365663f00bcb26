"""Role test of the ldap image's optional replication: a provider (``LDAP_SYNC_PROVIDER=yes``)
and a read-only consumer (``LDAP_SYNC_FROM=ldap://<provider>``, syncrepl refreshAndPersist) on
one network, as an authentication directory is run with a replica.

Checks: the consumer, started with an empty database, holds the provider's seeded users within
seconds and answers what Dovecot's auth_bind does (anonymous lookup by mail, a bind as the
user); it refers writes to the provider; an add at the provider reaches it within 5 s; with the
provider stopped it still answers binds; once the provider is started again (its cn=config
changes not made twice) adds replicate again.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import ldap3
import pytest

from harness.containers import RoleContainer, role_container

BASE = "dc=example,dc=test"
PEOPLE = f"ou=people,{BASE}"
ADMIN = f"cn=admin,{BASE}"
ADMIN_PW = "secret"
DEFAULT_USERS = [f"user{i}@example.test" for i in range(1, 5)]
#: how soon an add at the provider must be readable at the consumer
REPLICATION_BOUND_S = 5.0


def connect(host: str, user: str | None = None, password: str | None = None, timeout: int = 2,
            **kw) -> ldap3.Connection:
    server = ldap3.Server(host, port=389, connect_timeout=timeout, get_info=ldap3.NONE)
    # ldap3 packs receive_timeout into SO_RCVTIMEO as integers: a float raises once connected
    conn = ldap3.Connection(server, user=user, password=password, receive_timeout=int(timeout), raise_exceptions=False,
                            **kw)
    if not conn.bind():
        raise ConnectionError(f"bind as {user or 'anonymous'} to {host} failed: {conn.result}")
    return conn


def mails(host: str, flt: str = "(mail=*)", attrs=("mail", "mailHost")) -> dict[str, dict]:
    """Anonymous search under ou=people: ``{mail: {attr: values}}`` ({} while ou=people is missing)."""
    conn = connect(host)
    conn.search(PEOPLE, flt, attributes=list(attrs))
    return {str(e.mail.value): {a: e[a].values for a in attrs} for e in conn.entries}


def add_user(host: str, uid: str) -> str:
    """Add ``uid`` (mail ``<uid>@example.test``, password ``pw-<uid>``) as the admin; its mail."""
    admin = connect(host, ADMIN, ADMIN_PW)
    mail = f"{uid}@example.test"
    ok = admin.add(f"uid={uid},{PEOPLE}", ["inetOrgPerson", "inetLocalMailRecipient"],
                   {"uid": uid, "cn": uid, "sn": "Replicated", "mail": mail, "mailHost": "10.9.9.9",
                    "userPassword": f"pw-{uid}"})
    assert ok, f"the admin could not add uid={uid} at the provider {host}: {admin.result}"
    return mail


def wait_for_mail(host: str, mail: str, timeout: float, interval: float = 0.05) -> float | None:
    """Seconds until an anonymous search at ``host`` finds ``mail``; None after ``timeout``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if mail in mails(host, f"(mail={mail})"):
                return time.monotonic() - t0
        except (ConnectionError, ldap3.core.exceptions.LDAPException):
            pass
        time.sleep(interval)
    return None


def role_lines(c: RoleContainer) -> list[str]:
    return [line for line in c.logs().splitlines() if line.startswith("entrypoint: replication:")]


@pytest.fixture(scope="module")
def pair():
    """The provider, then the consumer, which finds it by its container name (Docker's DNS on
    the run's network, so the provider may come back on another address)."""
    with role_container("ldap", suffix="mhldaprepl-provider", hostname="provider",
                        env={"LDAP_SYNC_PROVIDER": "yes"}, timeout=30) as prov:
        t0 = time.monotonic()
        # ready = an admin bind + a search of the base entry: on a consumer, whose database
        # starts empty, that entry has then come from the provider
        cons = prov.run.start("ldap", suffix="mhldaprepl-consumer", hostname="consumer",
                              env={"LDAP_SYNC_FROM": f"ldap://{prov.name}"}, timeout=30, interval=0.05)
        yield SimpleNamespace(provider=prov, consumer=cons, prov_ip=prov.ip, cons_ready=time.monotonic() - t0)


def test_consumer_holds_the_seed_and_answers_auth_lookups(pair, note):
    prov, cons = pair.provider, pair.consumer
    assert role_lines(prov) == ["entrypoint: replication: provider (syncprov overlay on {1}mdb); cn=config: set "
                                "index entryCSN,entryUUID eq; module syncprov; overlay syncprov on {1}mdb"], prov.logs()[:1500]
    assert len(role_lines(cons)) == 1 and f"read-only consumer of ldap://{prov.name}" in role_lines(cons)[0], cons.logs()[:1500]
    assert "seeding" not in cons.logs(), f"a consumer must not be seeded:\n{cons.logs()[:1500]}"

    # the seeded users, within a few seconds of the consumer's start
    t0 = time.monotonic()
    while set(DEFAULT_USERS) - set(mails(cons.ip)) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    found = mails(cons.ip)
    users_s = pair.cons_ready + time.monotonic() - t0
    note("consumer engine start to base entry replicated (ready)", cons.ready_s, "s")
    note("consumer docker run to the 4 seeded users readable", users_s, "s")
    missing = [m for m in DEFAULT_USERS if m not in found]
    assert not missing, f"the consumer lacks {missing} 10 s after it was ready; it holds {sorted(found)}"
    assert users_s < 10, f"the consumer took {users_s:.1f} s to hold the seeded users"

    # the same entries, not look-alikes: a consumer loaded with its own base tree would keep
    # its own entryUUIDs for dc=example,dc=test and ou=people and drift from the provider
    def uuids(host):
        conn = connect(host, ADMIN, ADMIN_PW)
        assert conn.search(BASE, "(objectClass=*)", attributes=["entryUUID"]), conn.result
        return {e.entry_dn: e.entryUUID.value for e in conn.entries}
    assert uuids(cons.ip) == uuids(pair.prov_ip), "the consumer's entries differ from the provider's (entryUUIDs)"

    # what Dovecot's auth_bind does: an anonymous lookup by mail, then a bind as the user
    user1 = mails(cons.ip, "(mail=user1@example.test)", attrs=("mail", "mailHost", "userPassword"))
    assert list(user1) == ["user1@example.test"], f"anonymous lookup of user1 at the consumer returned {sorted(user1)}"
    assert user1["user1@example.test"]["mailHost"] == ["127.0.0.1"]
    assert user1["user1@example.test"]["userPassword"] == [], "anonymous must not read userPassword at the consumer"
    dn = f"uid=user1,{PEOPLE}"
    assert connect(cons.ip, dn, "pw-user1").extend.standard.who_am_i() == f"dn:{dn}"
    bad = ldap3.Connection(ldap3.Server(cons.ip, get_info=ldap3.NONE), user=dn, password="wrong")
    assert not bad.bind() and bad.result["description"] == "invalidCredentials", f"wrong password answered {bad.result}"

    # read-only: even the admin's write is referred to the provider (not followed: the
    # provider's name resolves only on the run's network)
    admin = connect(cons.ip, ADMIN, ADMIN_PW, auto_referrals=False)
    admin.add(f"uid=local,{PEOPLE}", ["inetOrgPerson"], {"uid": "local", "cn": "local", "sn": "Local"})
    assert admin.result["description"] == "referral", f"a write at the consumer answered {admin.result}"
    assert any(r.startswith(f"ldap://{prov.name}") for r in admin.result.get("referrals") or []), admin.result


def test_add_at_provider_reaches_consumer_within_5s(pair, note):
    prov, cons = pair.provider, pair.consumer
    mail = add_user(pair.prov_ip, "repl1")
    took = wait_for_mail(cons.ip, mail, timeout=REPLICATION_BOUND_S)
    note("add at provider to readable at consumer", took if took is not None else f">{REPLICATION_BOUND_S}", "s")
    assert took is not None, f"{mail}, added at the provider, was not at the consumer within {REPLICATION_BOUND_S} s"
    assert connect(cons.ip, f"uid=repl1,{PEOPLE}", "pw-repl1"), "the replicated user cannot bind at the consumer"


def test_consumer_answers_binds_with_provider_stopped(pair, note):
    prov, cons = pair.provider, pair.consumer
    t0 = time.monotonic()
    prov.docker_stop()
    assert prov.state()["Running"] is False
    note("provider docker stop", time.monotonic() - t0, "s")
    time.sleep(1.5)  # the consumer has seen its connection close and retries every second
    for uid in ("user1", "user2", "repl1"):
        dn = f"uid={uid},{PEOPLE}"
        assert connect(cons.ip, dn, f"pw-{uid}").extend.standard.who_am_i() == f"dn:{dn}", \
            f"{uid} cannot bind at the consumer with the provider stopped"
    found = mails(cons.ip)
    assert set(DEFAULT_USERS + ["repl1@example.test"]) <= set(found), f"with the provider stopped the consumer holds {sorted(found)}"
    assert cons.state()["Running"], "the consumer stopped with its provider"


def test_replication_resumes_after_provider_starts_again(pair, note):
    prov, cons = pair.provider, pair.consumer
    assert not prov.state()["Running"], "the provider should still be stopped from the previous test"
    t0 = time.monotonic()
    prov.start_again()
    # the address may change on a restart: the consumer follows the name, the test asks the engine
    ip = ""
    while not ip and time.monotonic() - t0 < 10:
        ip = prov.address()
        time.sleep(0.05)
    assert ip, "the restarted provider has no address on the run's network"
    while time.monotonic() - t0 < 30:
        try:
            connect(ip, ADMIN, ADMIN_PW, timeout=1)
            break
        except (ConnectionError, ldap3.core.exceptions.LDAPException):
            time.sleep(0.05)
    note("provider docker start to admin bind", time.monotonic() - t0, "s")

    # cn=config changes were not made again: same filesystem, "already set", one of each
    assert role_lines(prov)[-1] == "entrypoint: replication: provider (syncprov overlay on {1}mdb); cn=config already set", \
        role_lines(prov)
    r = prov.sh("slapcat -n0 -o ldif_wrap=no | grep -cE '^(olcModuleLoad: \\{[0-9]+\\}syncprov|olcOverlay: \\{[0-9]+\\}syncprov"
                "|olcDbIndex: entryCSN,entryUUID eq)$'")
    assert r.out.strip() == "3", f"expected one syncprov module, overlay and entryCSN index in cn=config, counted {r.out or r.err}"

    mail = add_user(ip, "repl2")
    took = wait_for_mail(cons.ip, mail, timeout=15)
    note("add at restarted provider to readable at consumer", took if took is not None else ">15", "s",
         f"({time.monotonic() - t0:.2f} s after docker start)")
    assert took is not None, f"{mail}, added at the restarted provider, did not reach the consumer within 15 s"
    assert took < REPLICATION_BOUND_S, f"replication after the provider's restart took {took:.1f} s"
    assert connect(cons.ip, f"uid=repl2,{PEOPLE}", "pw-repl2"), "the user added after the restart cannot bind at the consumer"
