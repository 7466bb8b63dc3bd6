#!/usr/bin/env bash
# Start Chroma on loopback and the token-checking proxy in front of it.
# The container exits (non-zero) as soon as either process exits, so the orchestrator restarts both.
# Uses only programs the base image has (containers/base-images.toml): bash, mkdir, flock, chroma,
# plus the caddy binary the Dockerfile copies in. tests/rehearsal runs this file with that PATH.
set -euo pipefail

log() { echo "knowledgebeast-chroma: $*" >&2; }

token="${CHROMA_AUTH_TOKEN:-}"
# Letters, digits and a few URL-safe symbols only: Caddy's header matcher treats a leading or
# trailing '*' as a wildcard and '{...}' as a placeholder, so such tokens must be refused.
if [[ ! "${token}" =~ ^[A-Za-z0-9._~+/=-]{32,512}$ ]]; then
    log "CHROMA_AUTH_TOKEN must be 32-512 characters of [A-Za-z0-9._~+/=-];" \
        "refusing to start an unauthenticated Chroma"
    exit 64
fi
lock_wait="${CHROMA_LOCK_WAIT_SECONDS:-90}"
if [[ ! "${lock_wait}" =~ ^[0-9]{1,4}$ ]]; then
    log "CHROMA_LOCK_WAIT_SECONDS must be a whole number of seconds, got '${lock_wait}'"
    exit 64
fi
caddyfile="${KB_CADDYFILE:-/etc/knowledgebeast/Caddyfile}"

mkdir -p "${XDG_CONFIG_HOME}" "${XDG_DATA_HOME}" "${CHROMA_DATA_DIR}"

# Single writer: Chroma's SQLite and HNSW files take exactly one process. An exclusive flock on
# a file in the data directory is held by this script and inherited by chroma (fd 9), so it lasts
# as long as the writer does. On EFS (NFSv4.1) Linux turns flock into a whole-file lock that the
# server arbitrates, so it also excludes a second task on another host. A replacement that starts
# while the old task is still stopping waits up to CHROMA_LOCK_WAIT_SECONDS, then gives up.
lock_file="${CHROMA_DATA_DIR}/.knowledgebeast-writer.lock"
exec 9>>"${lock_file}"
if ! flock --exclusive --nonblock 9; then
    log "another Chroma process holds ${lock_file}; waiting up to ${lock_wait} s for it to stop"
    if ! flock --exclusive --wait "${lock_wait}" 9; then
        log "refusing to start: ${CHROMA_DATA_DIR} already has a running Chroma writer" \
            "(${lock_file} still locked after ${lock_wait} s)"
        exit 75
    fi
fi
log "single-writer lock taken on ${lock_file}"

chroma run --path "${CHROMA_DATA_DIR}" --host 127.0.0.1 --port "${CHROMA_INTERNAL_PORT}" &
chroma_pid=$!
caddy run --config "${caddyfile}" --adapter caddyfile 9>&- &
proxy_pid=$!

stopping=0
stop() {
    stopping=1
    kill -TERM "${proxy_pid}" "${chroma_pid}" 2>/dev/null || true
}
trap stop TERM INT

set +e
wait -n -p exited_pid "${chroma_pid}" "${proxy_pid}"
status=$?
if [[ "${stopping}" == 0 ]]; then
    name=$([[ "${exited_pid:-}" == "${chroma_pid}" ]] && echo chroma || echo caddy)
    log "${name} exited with status ${status}; stopping the container"
    # A process that ends on its own is a failure even with status 0: the container must restart.
    [[ "${status}" == 0 ]] && status=70
fi
stop
wait
exit "${status}"
