"""LDAP client (ldap3): bind, search and add, recorded in the history."""
from __future__ import annotations

import math

import ldap3
from ldap3.core.exceptions import LDAPException

from ..history import History
from . import short_error


class LdapClient:
    def __init__(self, history: History, proc: str, host: str, port: int = 389, timeout: float = 5.0):
        self.h = history
        self.proc = proc
        self.server = ldap3.Server(host, port=port, connect_timeout=timeout, get_info=ldap3.NONE)
        self.timeout = timeout

    def _conn(self, dn=None, password=None) -> ldap3.Connection:
        # receive_timeout must be an integer (ldap3 packs it into SO_RCVTIMEO)
        c = ldap3.Connection(self.server, user=dn, password=password, receive_timeout=max(1, math.ceil(self.timeout)),
                             raise_exceptions=True)
        c.bind()
        return c

    def search(self, base: str, flt: str, attrs=("mail", "mailHost"), dn=None, password=None) -> list[dict] | None:
        self.h.invoke(self.proc, "ldap-search", {"base": base, "filter": flt})
        try:
            c = self._conn(dn, password)
            c.search(base, flt, attributes=list(attrs))
            rows = [{"dn": e.entry_dn, **{a: (e[a].values if a in e else []) for a in attrs}} for e in c.entries]
            c.unbind()
            self.h.ok(self.proc, "ldap-search", {"base": base, "filter": flt, "count": len(rows)})
            return rows
        except LDAPException as e:
            self.h.fail(self.proc, "ldap-search", {"base": base, "filter": flt}, error=short_error(e))
            return None

    def add(self, dn_: str, object_classes: list[str], attrs: dict, admin_dn: str, admin_pw: str) -> bool:
        self.h.invoke(self.proc, "ldap-add", {"dn": dn_})
        try:
            c = self._conn(admin_dn, admin_pw)
            c.add(dn_, object_classes, attrs)
            c.unbind()
            self.h.ok(self.proc, "ldap-add", {"dn": dn_})
            return True
        except LDAPException as e:
            self.h.fail(self.proc, "ldap-add", {"dn": dn_}, error=short_error(e))
            return False

    def probe(self, target: str = "") -> bool:
        self.h.invoke(self.proc, "probe", {"proto": "ldap", "target": target or self.server.host})
        try:
            self._conn().unbind()
            self.h.ok(self.proc, "probe", {"proto": "ldap"})
            return True
        except LDAPException as e:
            self.h.fail(self.proc, "probe", {"proto": "ldap"}, error=short_error(e))
            return False
