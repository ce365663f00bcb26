#!/bin/bash
# PID 1 of the lb image: HAProxy in master-worker mode, plus keepalived (VRRP only) for
# the LB's virtual IP when /conf/keepalived.conf is mounted or VRRP_VIP is set.
#
# Config: /conf/haproxy.cfg if mounted (mount the /conf directory, not the file, so an
# edited file is seen on reload), else the baked default. Reload: `lb-reload` (or SIGHUP
# to this entrypoint). keepalived: /conf/keepalived.conf verbatim, else generated from
# VRRP_* env by lb-keepalived-conf. Health probe for keepalived's track_file:
# LB_PROBE_PORT (8404), LB_PROBE_PATH (/healthz), LB_PROBE_INTERVAL (0.2 s),
# LB_PROBE_TIMEOUT (0.5 s), LB_PROBE_FALL (2), LB_PROBE_RISE (2).
set -uo pipefail
log() { echo "entrypoint: $*" >&2; }
loud() { local l; for l in "$@"; do echo "entrypoint: ERROR: $l" >&2; done; }

# A docker-killed container leaves these behind; PIDs restart low in a new PID namespace,
# so a stale keepalived pid file can name a live process and stop keepalived starting.
mkdir -p /run/haproxy /run/lb /run/keepalived
rm -f /run/haproxy/* /run/lb/* /run/keepalived/* /run/keepalived.pid /run/vrrp.pid /run/checkers.pid

cfg=/etc/haproxy/haproxy.cfg
[ -f /conf/haproxy.cfg ] && cfg=/conf/haproxy.cfg
echo "$cfg" > /run/lb/haproxy.cfg.path
if ! out=$(haproxy -c -f "$cfg" 2>&1); then
    loud "HAProxy rejects $cfg:"
    echo "$out" >&2
    exit 78
fi
log "starting HAProxy (master-worker) with $cfg"
haproxy -W -db -f "$cfg" -p /run/haproxy/haproxy.pid -S /run/haproxy/master.sock,mode,600 &
hpid=$!

kpid="" ppid=""
vrrp=""
if [ -f /conf/keepalived.conf ]; then
    vrrp=/conf/keepalived.conf
elif [ -n "${VRRP_VIP:-}" ]; then
    vrrp=/run/lb/keepalived.conf
    lb-keepalived-conf > "$vrrp" || { kill -TERM "$hpid"; exit 78; }
fi

has_cap() {  # has_cap BIT: is capability BIT in this process's effective set?
    local eff; eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    (( (0x$eff >> $1) & 1 ))
}

probe_once() {  # one HTTP GET of the health URL over bash's /dev/tcp; 0 = "HTTP/1.x 200"
    local line=""
    { printf 'GET %s HTTP/1.0\r\nHost: lb\r\n\r\n' "$probe_path" >&3 && read -r -t "$probe_timeout" line <&3; } \
        2>/dev/null 3<>"/dev/tcp/127.0.0.1/$probe_port" || return 1  # 2> first: hides "connection refused"
    [[ $line == HTTP/1.[01]\ 200* ]]
}

probe_loop() {  # writes 0/1 to /run/lb/health atomically, with fall/rise hysteresis
    local state=1 ok=0 bad=0 tick=/run/lb/tick
    mkfifo "$tick"  # read -t on a fifo nobody writes: a sleep without forking sleep(1)
    exec 4<>"$tick"
    echo 1 > /run/lb/health.tmp && mv /run/lb/health.tmp /run/lb/health
    while :; do
        if probe_once; then ok=$((ok + 1)); bad=0; else bad=$((bad + 1)); ok=0; fi
        if [ $state = 1 ] && [ $ok -ge "$probe_rise" ]; then
            state=0; echo 0 > /run/lb/health.tmp && mv /run/lb/health.tmp /run/lb/health
            log "probe: HAProxy answers 127.0.0.1:$probe_port$probe_path (health 0)"
        elif [ $state = 0 ] && [ $bad -ge "$probe_fall" ]; then
            state=1; echo 1 > /run/lb/health.tmp && mv /run/lb/health.tmp /run/lb/health
            log "probe: HAProxy stopped answering 127.0.0.1:$probe_port$probe_path $bad times (health 1: keepalived FAULT)"
        fi
        read -r -t "$probe_interval" <&4
    done
}

if [ -n "$vrrp" ]; then
    # Without NET_ADMIN keepalived cannot add the VIP yet still enters MASTER and keeps its
    # peers in BACKUP: nobody holds the address (P14). Refuse unless asked to reproduce it.
    missing=()
    has_cap 12 || missing+=(NET_ADMIN)
    has_cap 13 || missing+=(NET_RAW)
    if [ ${#missing[@]} -gt 0 ]; then
        loud "keepalived needs the capabilities ${missing[*]}, which this container lacks." \
             "Without them it claims MASTER but cannot add the virtual IP, so the VIP answers nowhere." \
             "Add 'cap_add: [${missing[*]// /, }]' to this service (docker run --cap-add ...)."
        if [ "${LB_ALLOW_MISSING_CAPS:-0}" != 1 ]; then
            loud "not starting; set LB_ALLOW_MISSING_CAPS=1 to run keepalived anyway (to demonstrate the failure)."
            kill -TERM "$hpid"; wait "$hpid"
            exit 78
        fi
        loud "LB_ALLOW_MISSING_CAPS=1: starting keepalived anyway."
    fi
    if [ -n "${VRRP_VIP:-}" ]; then  # for the notify hook's VIP check
        vip=${VRRP_VIP%/*}
        dev=$(grep -oE "$vip/[0-9]+ dev [^ ]+" "$vrrp" | head -1 | awk '{print $3}')
        [ -n "$dev" ] || dev=$(ip -o -4 route get "$vip" 2>/dev/null | grep -oE 'dev [^ ]+' | awk '{print $2}')
        echo "$vip $dev" > /run/lb/vip
    fi
    if ! out=$(keepalived --config-test -f "$vrrp" 2>&1); then
        loud "keepalived rejects $vrrp:"; echo "$out" >&2
        kill -TERM "$hpid"; wait "$hpid"
        exit 78
    fi
    probe_port=${LB_PROBE_PORT:-8404} probe_path=${LB_PROBE_PATH:-/healthz}
    probe_interval=${LB_PROBE_INTERVAL:-0.2} probe_timeout=${LB_PROBE_TIMEOUT:-0.5}
    probe_fall=${LB_PROBE_FALL:-2} probe_rise=${LB_PROBE_RISE:-2}
    probe_loop &
    ppid=$!
    log "starting keepalived (VRRP only) with $vrrp:"
    sed -e 's/^/    /' "$vrrp" >&2
    echo "INIT" > /run/lb/vrrp-state
    keepalived -n -l -D -P -f "$vrrp" -p /run/keepalived/keepalived.pid -r /run/keepalived/vrrp.pid &
    kpid=$!
fi

stop() {
    log "$1: stopping"
    # keepalived first: it drops the VIP and sends a priority-0 advert, so a peer takes
    # over at once instead of after the master-down interval.
    if [ -n "$kpid" ]; then kill -TERM "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; fi
    [ -n "$ppid" ] && kill "$ppid" 2>/dev/null
    if [ -n "$hpid" ]; then kill -TERM "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null; fi
    exit "${2:-0}"
}
trap 'stop TERM' TERM INT
trap 'lb-reload' HUP

# Any daemon exiting ends the container (the chaos harness then sees a dead LB, not a
# half-alive one). wait -n also returns when a trapped signal (HUP) arrives; bash then
# leaves $exited unset, hence ${exited:-}.
while :; do
    exited=""
    wait -n -p exited $hpid $kpid $ppid; rc=$?
    [ -n "${exited:-}" ] || continue
    name=haproxy; [ "$exited" = "$kpid" ] && name=keepalived; [ "$exited" = "$ppid" ] && name="probe loop"
    loud "$name (pid $exited) exited with status $rc"
    [ "$exited" = "$hpid" ] && hpid=""
    [ "$exited" = "$kpid" ] && kpid=""
    stop "$name exited" 1
done
