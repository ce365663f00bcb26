#!/bin/bash
# PID 1 of the ldap image: seed on first start, then run slapd in the foreground.
#
# Env: SLAPD_LOGLEVEL (slapd -d level, default "stats": one line per connection and
#      operation on stderr), SLAPD_URLS (default "ldap:/// ldapi:///").
# Mounts: /seed/*.ldif (users, loaded once with slapadd), /var/lib/ldap (the data).
set -uo pipefail
log() { echo "entrypoint: $*" >&2; }

share=/usr/local/share/mailha-ldap
data=/var/lib/ldap
marker=$data/.mailha-seeded       # lives with the data, so a fresh volume is seeded again

# A docker-killed container leaves these behind; PIDs restart low in a new PID namespace,
# so a stale pid could even name a live process.
install -d -o openldap -g openldap /run/slapd
rm -f /run/slapd/slapd.pid /run/slapd/slapd.args /run/slapd/ldapi

if [ ! -e "$data/data.mdb" ]; then
    log "no database in $data: loading the base tree"
    slapadd -n1 -F /etc/ldap/slapd.d -l "$share/base.ldif" || { log "ERROR: slapadd of base.ldif failed"; exit 1; }
fi

if [ ! -e "$marker" ]; then
    shopt -s nullglob
    seeds=(/seed/*.ldif)
    src=/seed
    if [ ${#seeds[@]} -eq 0 ]; then
        seeds=("$share"/seed/*.ldif)
        src="$share/seed (default)"
    fi
    log "first start: seeding from $src: ${seeds[*]##*/}"
    for f in "${seeds[@]}"; do
        # -c: an entry that already exists (e.g. ou=people repeated in a seed) is skipped,
        # not fatal. slapadd is silent on success and exits 0 even for a schema violation
        # under -c, so any output other than the duplicate-key lines is an error.
        out=$(slapadd -c -n1 -F /etc/ldap/slapd.d -l "$f" 2>&1); rc=$?
        errs=$(grep -v -E 'KEYEXIST|-30799|^[[:space:]]*$' <<<"$out" || true)
        if [ -n "$errs" ]; then
            log "ERROR: seeding $f failed (slapadd exit $rc):"
            echo "$out" >&2
        else
            log "seeded $f ($(grep -c '^dn:' "$f") entries; existing ones skipped)"
        fi
    done
    date -u +%FT%TZ > "$marker"
fi
chown -R openldap:openldap "$data"

urls=${SLAPD_URLS:-ldap:/// ldapi:///}
level=${SLAPD_LOGLEVEL:-stats}
log "starting slapd -h '$urls' -d $level"
slapd -d "$level" -h "$urls" -u openldap -g openldap -F /etc/ldap/slapd.d &
pid=$!
stopping=0
trap 'stopping=1; log "TERM: stopping slapd"; kill -TERM "$pid" 2>/dev/null' TERM INT
wait "$pid"; rc=$?
# a trapped signal cuts the wait short with 143; the daemon's own status comes from waiting
# again (when it exits quickly, "kill -0" alone would keep the 143: seen in CI)
while [ "$stopping" = 1 ] && [ "$rc" -gt 128 ]; do stopping=2; wait "$pid"; rc=$?; done
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
log "slapd exited with status $rc"
exit "$rc"
