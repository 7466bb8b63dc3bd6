"""compose.yaml: valid for Compose v2 (offline, ``docker-compose config``), and each service's
command and exact health check rehearsed outside Docker on the binaries the images carry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import MODEL_DIR, REPO
from tests.containers import rehearse
from tests.utils.servers import free_port

COMPOSE = REPO / "compose.yaml"
SECRETS = {
    "API_KEY": "compose-rehearsal-api-key",
    "CHROMA_AUTH_TOKEN": "c" * 40,
    "REDIS_PASSWORD": "compose-rehearsal-redis-password",
}


def compose_binary() -> str:
    exe = Path(sys.executable).with_name("docker-compose")
    return str(exe) if exe.exists() else rehearse.host_binary("docker-compose")


def compose_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [compose_binary(), "-f", str(path), "config"]
    return subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, cwd=REPO)


def compose_model(env: dict[str, str]) -> dict[str, Any]:
    """The model as Compose resolves it (interpolated, with every default filled in)."""
    result = compose_config(COMPOSE, {**env, "COMPOSE_PROFILES": "tools"})
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = yaml.safe_load(result.stdout)
    for service in model["services"].values():  # `config` keeps "$$" escaped; containers get "$"
        for key in ("command", "entrypoint"):
            if service.get(key):
                service[key] = [part.replace("$$", "$") for part in service[key]]
        if "healthcheck" in service:
            service["healthcheck"]["test"] = [part.replace("$$", "$") for part in service["healthcheck"]["test"]]
    return model


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    return compose_model(SECRETS)


def test_compose_file_is_valid() -> None:
    result = subprocess.run(
        [compose_binary(), "-f", str(COMPOSE), "config", "-q"], env={**os.environ, **SECRETS}, cwd=REPO
    )
    assert result.returncode == 0


def test_validator_rejects_unknown_keys_and_missing_secrets(tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert compose_config(path, SECRETS).returncode == 1
    missing = compose_config(COMPOSE, {k: v for k, v in SECRETS.items() if k != "REDIS_PASSWORD"})
    assert missing.returncode == 1 and "REDIS_PASSWORD" in missing.stderr


def test_stack_shape(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"api", "chroma", "valkey", "backup"}
    assert {name: dep["condition"] for name, dep in services["api"]["depends_on"].items()} == {
        "chroma": "service_healthy",
        "valkey": "service_healthy",
    }
    assert services["chroma"]["volumes"][0]["target"] == "/data"
    assert "chroma-data" in resolved["volumes"]
    for name in ("api", "chroma", "valkey"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
        assert services[name]["read_only"] is True, name
    assert services["api"]["ports"][0]["host_ip"] == "127.0.0.1"


def test_valkey_command_and_health_check(tmp_path: Path) -> None:
    """On a free port (VALKEY_PORT, which the command, the check and the API share)."""
    from tests.utils.servers import redis_binary

    model = compose_model({**SECRETS, "VALKEY_PORT": str(free_port())})
    service = model["services"]["valkey"]
    assert model["services"]["api"]["environment"]["REDIS_PORT"] == service["environment"]["VALKEY_PORT"]
    path = rehearse.image_path(tmp_path / "bin", {"valkey-server": redis_binary(), "bash": "/bin/bash"})
    env = {"PATH": path, **service["environment"]}
    process = subprocess.Popen(service["command"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        rehearse.until_healthy(service["healthcheck"]["test"], env, process)
        wrong = {**env, "REDIS_PASSWORD": "not-the-password"}
        assert rehearse.health_check(service["healthcheck"]["test"], wrong) != 0
    finally:
        rehearse.stop(process)
    assert rehearse.health_check(service["healthcheck"]["test"], env) != 0  # down = unhealthy


def test_api_command_and_health_check(
    resolved: dict[str, Any], chroma_server: Any, redis_server: Any, tmp_path: Path
) -> None:
    """The API service's command on its image environment; the hostnames ``chroma``/``valkey``
    are replaced by this machine's test servers (no Compose network here)."""
    from tests.containers.dockerfile import image_config

    service = resolved["services"]["api"]
    image = image_config(REPO / "containers" / "api" / "Dockerfile")
    venv_bin = Path(sys.executable).parent
    path = rehearse.image_path(
        tmp_path / "bin", {"python": sys.executable, "knowledgebeast": venv_bin / "knowledgebeast"}
    )
    port = free_port()
    env = {
        **image.env,
        **service["environment"],
        "PATH": path,
        "PORT": str(port),
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_server.port),
        "CHROMA_AUTH_TOKEN": "",  # the test server has no token proxy
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.port),
        "REDIS_PASSWORD": "",
    }
    command = [*image.entrypoint, *service["command"]]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        rehearse.until_healthy(service["healthcheck"]["test"], env, process)
        rehearse.until_healthy(image.healthcheck, env, process)
    finally:
        assert rehearse.stop(process) == 0
    assert rehearse.health_check(service["healthcheck"]["test"], env) != 0
    assert json.loads(json.dumps(command)) == ["knowledgebeast", "serve"]


def test_chroma_command_and_health_check(resolved: dict[str, Any], tmp_path: Path) -> None:
    """The Chroma service runs its image's entrypoint (no command override); its check runs on
    the image's PATH (tests/rehearsal harness: base image programs + what the Dockerfile copies)."""
    from tests.rehearsal.conftest import CHROMA_CONTEXT, chroma_container_env, venv_program
    from tests.rehearsal.dockerfile import Dockerfile
    from tests.rehearsal.harness import Probe, image_path_for, run_probe, start_entrypoint, wait_healthy

    service = resolved["services"]["chroma"]
    assert "command" not in service and "entrypoint" not in service
    dockerfile = Dockerfile.read(CHROMA_CONTEXT / "Dockerfile")
    image = image_path_for(dockerfile, tmp_path / "bin", stage_files={"/usr/bin/caddy": venv_program("caddy")})
    env = chroma_container_env(dockerfile, tmp_path, **service["environment"])
    probe = Probe.from_ecs(service["healthcheck"]["test"], source="compose healthcheck")
    entry = start_entrypoint(dockerfile.entrypoint(), image, env=env, log=tmp_path / "chroma.log")
    try:
        wait_healthy(probe, image, entry, env=env)
    finally:
        entry.stop()
    assert not run_probe(probe, image, env=env).healthy
