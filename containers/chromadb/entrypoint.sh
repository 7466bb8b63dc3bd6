#!/usr/bin/env bash
# Start Chroma on loopback and the token-checking proxy in front of it.
# The container exits as soon as either process exits, so the orchestrator restarts both.
set -euo pipefail

token="${CHROMA_AUTH_TOKEN:-}"
# Letters, digits and a few URL-safe symbols only: Caddy's header matcher treats a leading or
# trailing '*' as a wildcard and '{...}' as a placeholder, so such tokens must be refused.
if [[ ! "${token}" =~ ^[A-Za-z0-9._~+/=-]{32,512}$ ]]; then
    echo "knowledgebeast-chroma: CHROMA_AUTH_TOKEN must be 32-512 characters of [A-Za-z0-9._~+/=-];" \
        "refusing to start an unauthenticated Chroma" >&2
    exit 64
fi

mkdir -p "${XDG_CONFIG_HOME}" "${XDG_DATA_HOME}" "${CHROMA_DATA_DIR}"

chroma run --path "${CHROMA_DATA_DIR}" --host 127.0.0.1 --port "${CHROMA_INTERNAL_PORT}" &
chroma_pid=$!
caddy run --config /etc/knowledgebeast/Caddyfile --adapter caddyfile &
proxy_pid=$!

stop() {
    kill -TERM "${proxy_pid}" "${chroma_pid}" 2>/dev/null || true
}
trap stop TERM INT

set +e
wait -n "${chroma_pid}" "${proxy_pid}"
status=$?
stop
wait
exit "${status}"
