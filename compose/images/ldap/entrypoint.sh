#!/bin/bash
# PID 1 of the ldap image: seed on first start, then run slapd in the foreground.
#
# Env: SLAPD_LOGLEVEL (slapd -d level, default "stats": one line per connection and
#      operation on stderr), SLAPD_URLS (default "ldap:/// ldapi:///").
#   Replication (optional, OpenLDAP syncrepl; with neither set nothing below changes):
#   LDAP_SYNC_PROVIDER=yes  this server is a provider: the syncprov module is loaded, the
#      syncprov overlay is added to {1}mdb (olcSpCheckpoint 100 10, olcSpSessionlog 100) and
#      the index entryCSN,entryUUID eq. Seeding is unchanged. "" or "no": off.
#   LDAP_SYNC_FROM=ldap://HOST[:PORT]  this server is a read-only consumer of HOST:
#      olcSyncrepl rid=001 (refreshAndPersist, bound as cn=admin,dc=example,dc=test, retry
#      every 1 s forever), olcUpdateRef HOST (writes are answered with a referral to it), the
#      index entryCSN,entryUUID eq. A consumer is never seeded (/seed is ignored) and its
#      first start empties the database (the image's build-time base tree included): the
#      whole tree, base entries with their entryUUIDs, comes from the provider, so until the
#      first refresh a search of dc=example,dc=test answers noSuchObject. Both variables
#      together: a consumer that also provides (cascading replication).
#   The cn=config changes are made offline (slapmodify -n0) before slapd starts, each one
#   only when cn=config lacks it, so a restarted container (which keeps /etc/ldap/slapd.d)
#   does not add them twice. One line "replication: ..." says the role taken.
# Mounts: /seed/*.ldif (users, loaded once with slapadd), /var/lib/ldap (the data).
set -uo pipefail
log() { echo "entrypoint: $*" >&2; }

share=/usr/local/share/mailha-ldap
data=/var/lib/ldap
marker=$data/.mailha-seeded       # lives with the data, so a fresh volume is seeded again

# --- replication (only called when LDAP_SYNC_PROVIDER or LDAP_SYNC_FROM is set) ----------
base_dn="dc=example,dc=test"
mdb="olcDatabase={1}mdb,cn=config"

# cn=config as one unfolded LDIF (slapcat reads slapd.d offline)
config_ldif() { slapcat -n0 -F /etc/ldap/slapd.d -o ldif_wrap=no 2>/dev/null; }

# config_apply WHAT LINE...: slapmodify -n0 of the LDIF made of the lines; on failure its
# complaint goes to the log. (Not fed by a pipe: "changed" must be set in this shell.)
config_apply() {
    local what=$1 out rc
    shift
    out=$(printf '%s\n' "$@" | slapmodify -n0 -F /etc/ldap/slapd.d 2>&1); rc=$?
    if [ "$rc" -ne 0 ]; then
        log "ERROR: cn=config: $what failed (slapmodify exit $rc):"
        echo "$out" >&2
        return 1
    fi
    changed+=("$what")
}

# the attribute values of {1}mdb's entry, one per line, without their {n} ordering prefix
mdb_values() {
    awk -v dn="dn: $mdb" -v attr="$1: " '
        /^dn: / { inside = ($0 == dn) }
        inside && index($0, attr) == 1 { v = substr($0, length(attr) + 1); sub(/^\{[0-9]+\}/, "", v); print v }'
}

replication_setup() {
    case $sync_provider in
        yes|no|"") ;;
        *) log "ERROR: LDAP_SYNC_PROVIDER must be yes or no, not '$sync_provider'"; return 1 ;;
    esac
    [ "$sync_provider" = no ] && sync_provider=""
    if [ -n "$sync_from" ] && ! [[ $sync_from =~ ^ldap://[A-Za-z0-9._-]+(:[0-9]+)?/?$ ]]; then
        log "ERROR: LDAP_SYNC_FROM must be ldap://HOST or ldap://HOST:PORT, not '$sync_from'"
        return 1
    fi
    [ -n "$sync_provider" ] || [ -n "$sync_from" ] || return 0

    local conf changed=() reindex=0 role out list
    conf=$(config_ldif) || { log "ERROR: slapcat of cn=config failed"; return 1; }

    if ! mdb_values olcDbIndex <<<"$conf" | grep -qx 'entryCSN,entryUUID eq'; then
        config_apply "index entryCSN,entryUUID eq" "dn: $mdb" "changetype: modify" "add: olcDbIndex" \
            "olcDbIndex: entryCSN,entryUUID eq" || return 1
        reindex=1
    fi

    if [ -n "$sync_provider" ]; then
        # the module first, in its own run: slapmodify knows olcSyncProvConfig only once
        # cn=config says to load syncprov
        if ! grep -qE '^olcModuleLoad: (\{[0-9]+\})?syncprov(\.la|\.so)?$' <<<"$conf"; then
            config_apply "module syncprov" "dn: cn=module{0},cn=config" "changetype: modify" \
                "add: olcModuleLoad" "olcModuleLoad: syncprov" || return 1
        fi
        if ! grep -qE '^dn: olcOverlay=(\{[0-9]+\})?syncprov,olcDatabase=\{1\}mdb,cn=config$' <<<"$conf"; then
            config_apply "overlay syncprov on {1}mdb" "dn: olcOverlay=syncprov,$mdb" "changetype: add" \
                "objectClass: olcOverlayConfig" "objectClass: olcSyncProvConfig" "olcOverlay: syncprov" \
                "olcSpCheckpoint: 100 10" "olcSpSessionlog: 100" || return 1
        fi
    fi

    if [ -n "$sync_from" ]; then
        local repl="rid=001 provider=$sync_from bindmethod=simple binddn=\"cn=admin,$base_dn\" credentials=secret"
        repl+=" searchbase=\"$base_dn\" type=refreshAndPersist retry=\"1 +\" timeout=3 network-timeout=2"
        # set = one olcSyncrepl naming this provider (slapd may rewrite it in its own words when
        # {1}mdb is modified online) and the referral to it; otherwise replace, not add, so a
        # config that names another provider (or none) ends up with exactly this one
        local have
        have=$(mdb_values olcSyncrepl <<<"$conf")
        if [ "$(wc -l <<<"$have")" != 1 ] || [[ " $have " != *" provider=$sync_from "* ]] \
                || [ "$(mdb_values olcUpdateRef <<<"$conf")" != "$sync_from" ]; then
            config_apply "syncrepl from $sync_from" "dn: $mdb" "changetype: modify" "replace: olcSyncrepl" \
                "olcSyncrepl: $repl" "-" "replace: olcUpdateRef" "olcUpdateRef: $sync_from" || return 1
        fi
        if [ ! -e "$marker" ]; then
            # first start of a consumer: the database the image was built with (or a mounted
            # one) goes; syncrepl's first refresh brings the provider's whole tree
            rm -f "$data/data.mdb" "$data/lock.mdb"
            reindex=0
        fi
    fi

    if [ "$reindex" = 1 ] && [ -e "$data/data.mdb" ]; then
        # an index added offline covers only entries added later: index what is there
        out=$(slapindex -n1 -F /etc/ldap/slapd.d entryCSN entryUUID 2>&1) \
            || { log "ERROR: slapindex entryCSN entryUUID failed:"; echo "$out" >&2; return 1; }
    fi
    if [ ${#changed[@]} -gt 0 ]; then
        chown -R openldap:openldap /etc/ldap/slapd.d
    fi

    if [ -n "$sync_from" ] && [ -n "$sync_provider" ]; then
        role="consumer of $sync_from (syncrepl rid=001 refreshAndPersist, read-only) and provider (syncprov) to further consumers"
    elif [ -n "$sync_from" ]; then
        role="read-only consumer of $sync_from (syncrepl rid=001 refreshAndPersist; writes referred to it; not seeded)"
    else
        role="provider (syncprov overlay on {1}mdb)"
    fi
    if [ ${#changed[@]} -gt 0 ]; then
        list=$(printf '%s; ' "${changed[@]}")
        log "replication: $role; cn=config: set ${list%; }"
    else
        log "replication: $role; cn=config already set"
    fi
}

# A docker-killed container leaves these behind; PIDs restart low in a new PID namespace,
# so a stale pid could even name a live process.
install -d -o openldap -g openldap /run/slapd
rm -f /run/slapd/slapd.pid /run/slapd/slapd.args /run/slapd/ldapi

sync_provider=${LDAP_SYNC_PROVIDER:-}
sync_from=${LDAP_SYNC_FROM:-}
if [ -n "$sync_provider" ] || [ -n "$sync_from" ]; then
    replication_setup || exit 1
fi

if [ -n "$sync_from" ]; then
    :   # a consumer: no base tree, no seed (replication_setup emptied the database on first start)
elif [ ! -e "$data/data.mdb" ]; then
    log "no database in $data: loading the base tree"
    slapadd -n1 -F /etc/ldap/slapd.d -l "$share/base.ldif" || { log "ERROR: slapadd of base.ldif failed"; exit 1; }
fi

if [ -n "$sync_from" ]; then
    [ -e "$marker" ] || echo "consumer of $sync_from: not seeded" > "$marker"
elif [ ! -e "$marker" ]; then
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
