#!/bin/bash
# PID 1 of the toxiproxy image. Proxies are normally created at runtime over the HTTP API;
# /conf/toxiproxy.json (or TOXIPROXY_CONFIG), if present, is loaded at start (-config).
#
# Env: TOXIPROXY_HOST (0.0.0.0), TOXIPROXY_PORT (8474), TOXIPROXY_SEED (seed for toxic
#      randomness: jitter, toxicity; set it for reproducible runs), TOXIPROXY_CONFIG,
#      LOG_LEVEL (toxiproxy's own: trace|debug|info|warn|error, default info).
set -uo pipefail
log() { echo "entrypoint: $*" >&2; }

args=(-host "${TOXIPROXY_HOST:-0.0.0.0}" -port "${TOXIPROXY_PORT:-8474}")
config=${TOXIPROXY_CONFIG:-/conf/toxiproxy.json}
if [ -f "$config" ]; then
    args+=(-config "$config")
elif [ -n "${TOXIPROXY_CONFIG:-}" ]; then
    log "ERROR: TOXIPROXY_CONFIG=$config does not exist"; exit 78
fi
[ -n "${TOXIPROXY_SEED:-}" ] && args+=(-seed "$TOXIPROXY_SEED")

log "starting toxiproxy-server $(toxiproxy-server -version 2>&1 | tr -d '\n') ${args[*]}"
toxiproxy-server "${args[@]}" &
pid=$!
stopping=0
trap 'stopping=1; log "TERM: stopping"; kill -TERM "$pid" 2>/dev/null' TERM INT
wait "$pid"; rc=$?
# a trapped signal cuts the wait short with 143; the daemon's own status comes from waiting
# again (when it exits quickly, "kill -0" alone would keep the 143: seen in CI)
while [ "$stopping" = 1 ] && [ "$rc" -gt 128 ]; do stopping=2; wait "$pid"; rc=$?; done
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
log "toxiproxy-server exited with status $rc"
exit "$rc"
