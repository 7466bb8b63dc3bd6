#!/usr/bin/env bash
# Container health check for Docker HEALTHCHECK and the ECS task definition (the same command).
# bash built-ins only: the chromadb/chroma base image has no curl, wget or python (see
# containers/base-images.toml). Healthy = the proxy answers GET /healthz, which it rewrites to
# Chroma's heartbeat, with HTTP 200: both processes are up. Exit 0 healthy, 1 unhealthy.
set -u

port="${PROXY_PORT:-8000}"
if ! exec 3<>"/dev/tcp/127.0.0.1/${port}"; then
    echo "healthcheck: nothing listening on 127.0.0.1:${port}"
    exit 1
fi
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
if ! IFS= read -r -t "${HEALTHCHECK_READ_SECONDS:-4}" status <&3; then
    echo "healthcheck: no answer from 127.0.0.1:${port}"
    exit 1
fi
status="${status%$'\r'}"
if [[ "${status}" =~ ^HTTP/1\.[01]\ 200( |$) ]]; then
    exit 0
fi
echo "healthcheck: ${status}"
exit 1
