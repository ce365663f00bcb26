#!/bin/bash
# Build-time: misc schema + indexes into cn=config (online over ldapi, as Debian ships it),
# then replace the package's database with base.ldif so a fresh volume gets the same tree.
set -euo pipefail
share=/usr/local/share/mailha-ldap
install -d -o openldap -g openldap /run/slapd
slapd -h ldapi:/// -u openldap -g openldap -F /etc/ldap/slapd.d
for _ in $(seq 100); do
    ldapsearch -Q -Y EXTERNAL -H ldapi:/// -b cn=config -s base dn >/dev/null 2>&1 && break
    sleep 0.1
done
ldapadd -Q -Y EXTERNAL -H ldapi:/// -f /etc/ldap/schema/misc.ldif
ldapmodify -Q -Y EXTERNAL -H ldapi:/// -f "$share/config.ldif"
kill "$(cat /run/slapd/slapd.pid)"
for _ in $(seq 100); do [ -e /run/slapd/slapd.pid ] || break; sleep 0.1; done
rm -rf /var/lib/ldap/* /run/slapd/*
slapadd -n1 -F /etc/ldap/slapd.d -l "$share/base.ldif"
chown -R openldap:openldap /var/lib/ldap /etc/ldap/slapd.d
# the facts the smoke test relies on, in the build log
slapcat -n0 -F /etc/ldap/slapd.d | grep -E '^(dn: cn=\{[0-9]+\}misc|olcDbIndex|olcAccess|olcRootDN|olcSuffix)'
