"""The EKS manifests' containers rehearsed outside Kubernetes: each container's command/args as
written in cdk/knowledgebeast_cdk/manifests*.py, started on its image's PATH, and each probe
(httpGet path and port, tcpSocket) asked the way the kubelet asks it.

Moved for this machine: the in-pod secrets folder (/run/knowledgebeast) becomes a scratch folder
holding what the fetch-secrets init container writes; ports are free ports; the API's secret ARNs
become plain values (reading them by ARN is tested against moto in tests/security and
tests/containers/test_secret_files.py).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import MODEL_DIR, REPO
from tests.rehearsal.conftest import CHROMA_CONTEXT, chroma_container_env, venv_program
from tests.rehearsal.dockerfile import Dockerfile
from tests.rehearsal.harness import ImagePath, image_path_for, restricted_path, start_entrypoint
from tests.utils.servers import free_port, redis_binary, wait_for_port

sys.path.insert(0, str(REPO / "cdk"))
from knowledgebeast_cdk.manifest_parts import SECRETS_DIR
from knowledgebeast_cdk.manifests import all_manifests

pytestmark = pytest.mark.slow


def pod(name: str) -> dict[str, Any]:
    (doc,) = [
        d for d in all_manifests() if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == name
    ]
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def http_probe(probe: dict[str, Any], container: dict[str, Any], port: int) -> int:
    """The kubelet's httpGet: the named port resolved through the container's ports."""
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert probe["httpGet"]["port"] in named
    return httpx.get(f"http://127.0.0.1:{port}{probe['httpGet']['path']}", timeout=5).status_code


def until_ok(check: Any, entry: Any) -> None:
    import time

    deadline = time.monotonic() + 180
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        assert entry.returncode() is None, entry.output()
        assert time.monotonic() < deadline, entry.output()
        time.sleep(0.5)


def api_image(tmp_path: Path) -> ImagePath:
    dockerfile = Dockerfile.read(REPO / "containers" / "api" / "Dockerfile")
    venv = Path(sys.executable).parent
    return restricted_path(
        dockerfile.base_image(),
        tmp_path / "api-bin",
        added={"python": Path(sys.executable), "knowledgebeast": venv / "knowledgebeast"},
    )


def test_api_probes_answer_on_the_real_server(chroma_server: Any, redis_server: Any, tmp_path: Path) -> None:
    dockerfile = Dockerfile.read(REPO / "containers" / "api" / "Dockerfile")
    (container,) = pod("api")["containers"]
    env = {**dockerfile.env(), **{e["name"]: e["value"] for e in container["env"]}}
    port = free_port()
    env.update(
        {
            "PORT": str(port),
            "HOME": str(tmp_path),
            "DATA_DIR": str(tmp_path / "data"),
            "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
            "CHROMA_HOST": "127.0.0.1",
            "CHROMA_PORT": str(chroma_server.port),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_server.port),
            "API_KEY": "manifest-rehearsal-key",
        }
    )
    for name in [n for n in env if n.endswith("_SECRET_ARN")]:
        env.pop(name)
    command = [*dockerfile.entrypoint()[:1], *container["args"]]
    assert command == ["knowledgebeast", "serve"]
    entry = start_entrypoint(command, api_image(tmp_path), env=env, log=tmp_path / "api.log")
    try:
        until_ok(lambda: http_probe(container["startupProbe"], container, port) == 200, entry)
        assert http_probe(container["livenessProbe"], container, port) == 200
        until_ok(lambda: http_probe(container["readinessProbe"], container, port) == 200, entry)
    finally:
        entry.stop()


def test_chroma_command_with_the_token_file_and_its_probes(tmp_path: Path) -> None:
    spec = pod("chroma")
    (container,) = spec["containers"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "chroma-token").write_text("k" * 40)  # what the fetch-secrets init container writes
    dockerfile = Dockerfile.read(CHROMA_CONTEXT / "Dockerfile")
    image = image_path_for(dockerfile, tmp_path / "bin", stage_files={"/usr/bin/caddy": venv_program("caddy")})
    env = chroma_container_env(dockerfile, tmp_path)
    env.pop("CHROMA_AUTH_TOKEN")  # the manifest gives no token variable: the command reads the file
    args = [arg.replace(SECRETS_DIR, str(secrets)) for arg in container["args"]]
    entry = start_entrypoint([*container["command"], *args], image, env=env, log=tmp_path / "chroma.log")
    port = int(env["PROXY_PORT"])
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 240  # the measured start period
    try:
        until_ok(lambda: http_probe(startup, container, port) == 200, entry)
        assert http_probe(container["readinessProbe"], container, port) == 200
        assert http_probe(container["livenessProbe"], container, port) == 200
        heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
        assert httpx.get(heartbeat, headers={"Authorization": "Bearer " + "k" * 40}).status_code == 200
        assert httpx.get(heartbeat, headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        entry.stop()


def test_valkey_reads_its_password_from_the_config_file(tmp_path: Path) -> None:
    from knowledgebeast_cdk.manifest_parts import REDIS_PORT

    (container,) = pod("redis")["containers"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "valkey.conf").write_text("requirepass manifest-rehearsal\n")  # the init container's file
    port = free_port()
    args = [arg.replace(SECRETS_DIR, str(secrets)) for arg in container["args"]]
    args = [str(port) if arg == str(REDIS_PORT) else arg for arg in args]
    image = restricted_path(
        "python:3.11-slim-bookworm", tmp_path / "bin", added={"valkey-server": Path(redis_binary())}
    )
    entry = start_entrypoint([*container["command"], *args], image, env={}, log=tmp_path / "valkey.log")
    try:
        wait_for_port(port, process=entry.process)
        assert container["readinessProbe"]["tcpSocket"]["port"] == "redis"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # tcpSocket probe: the connection is accepted
        assert redis.Redis(port=port, password="manifest-rehearsal").ping() is True
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
    finally:
        entry.stop()
