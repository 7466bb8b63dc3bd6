"""Rehearse the Chroma container's start-up: real entrypoint, real chroma + caddy, the image's PATH.

The health checks run are the exact strings of the synthesized VectorStore template and of the
Dockerfile HEALTHCHECK. Before issue 16 both ran curl, which the base image lacks: the
``test_curl_check_*`` tests keep that failure visible.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.rehearsal.conftest import StartChroma, chroma_container_env
from tests.rehearsal.dockerfile import Dockerfile
from tests.rehearsal.harness import (
    ImagePath,
    Probe,
    RunningEntrypoint,
    restricted_path,
    run_http_probe,
    run_probe,
    start_entrypoint,
    wait_healthy,
)
from tests.rehearsal.templates import ecs_health_checks

pytestmark = pytest.mark.slow

#: The health check the VectorStore stack shipped before issue 16, verbatim (port filled in).
OLD_CURL_CHECK = ["CMD-SHELL", "curl -fsS http://127.0.0.1:{port}/healthz || exit 1"]
Running = tuple[RunningEntrypoint, dict[str, str]]


def chroma_ecs_check(cdk_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    checks = ecs_health_checks(cdk_templates["VectorStore"])
    (check,) = [value for key, value in checks.items() if key.endswith("/chroma")]
    return check


@pytest.fixture(scope="module")
def running(
    chroma_dockerfile: Dockerfile, chroma_image: ImagePath, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningEntrypoint, dict[str, str]]]:
    """One healthy container shared by the probe and proxy tests of this module."""
    scratch = tmp_path_factory.mktemp("chroma-container")
    env = chroma_container_env(chroma_dockerfile, scratch)
    entry = start_entrypoint(chroma_dockerfile.entrypoint(), chroma_image, env=env, log=scratch / "container.log")
    try:
        wait_healthy(Probe.from_healthcheck(chroma_dockerfile.healthcheck()), chroma_image, entry, env=env)
        yield entry, env
    finally:
        entry.stop()


def test_ecs_health_check_from_the_template_passes(
    running: Running, chroma_image: ImagePath, cdk_templates: dict[str, dict[str, Any]]
) -> None:
    entry, env = running
    check = chroma_ecs_check(cdk_templates)
    result = run_probe(Probe.from_ecs(check["Command"]), chroma_image, env=env)
    assert result.healthy, result
    assert entry.returncode() is None


def test_dockerfile_healthcheck_passes(
    running: Running, chroma_image: ImagePath, chroma_dockerfile: Dockerfile
) -> None:
    _, env = running
    result = run_probe(Probe.from_healthcheck(chroma_dockerfile.healthcheck()), chroma_image, env=env)
    assert result.healthy, result


def test_docker_and_ecs_run_the_same_check_with_the_same_timing(
    chroma_dockerfile: Dockerfile, cdk_templates: dict[str, dict[str, Any]]
) -> None:
    healthcheck = chroma_dockerfile.healthcheck()
    check = chroma_ecs_check(cdk_templates)
    assert Probe.from_ecs(check["Command"]).argv == Probe.from_healthcheck(healthcheck).argv
    seconds = {key: int(value.removesuffix("s")) for key, value in healthcheck.options.items() if key != "retries"}
    assert seconds == {
        "interval": check["Interval"],
        "timeout": check["Timeout"],
        "start-period": check["StartPeriod"],
    }
    assert int(healthcheck.options["retries"]) == check["Retries"]


def test_kubernetes_http_probe_path_answers(running: Running) -> None:
    """cdk/manifests probe ``GET /healthz`` on the proxy port with httpGet (no image program needed)."""
    _, env = running
    assert run_http_probe(int(env["PROXY_PORT"]), "/healthz").healthy
    assert not run_http_probe(int(env["PROXY_PORT"]), "/api/v2/heartbeat").healthy  # 401: token required


def test_check_fails_when_the_proxy_is_down(chroma_image: ImagePath, chroma_dockerfile: Dockerfile) -> None:
    from tests.utils.servers import free_port

    env = {**chroma_dockerfile.env(), "PROXY_PORT": str(free_port())}
    result = run_probe(Probe.from_healthcheck(chroma_dockerfile.healthcheck()), chroma_image, env=env)
    assert not result.healthy
    assert "nothing listening" in result.output


def test_curl_check_fails_in_the_image_but_not_on_this_host(running: Running, chroma_image: ImagePath) -> None:
    """The pre-issue-16 check: unhealthy with the image's PATH; with curl added, the same server passes."""
    _, env = running
    old = Probe.from_ecs([OLD_CURL_CHECK[0], OLD_CURL_CHECK[1].format(port=env["PROXY_PORT"])])
    in_image = run_probe(old, chroma_image, env=env)
    assert not in_image.healthy
    assert "curl: not found" in in_image.output
    host_curl = shutil.which("curl")
    if host_curl is None:
        pytest.skip("no curl on this machine to show the contrast with")
    with_curl = restricted_path(
        chroma_image.image, chroma_image.directory.parent / "with-curl", added={"curl": Path(host_curl)}
    )
    assert run_probe(old, with_curl, env=env).healthy


@pytest.mark.parametrize("program", ["curl", "wget", "python3", "nc"])
def test_image_lacks_the_usual_http_clients(chroma_image: ImagePath, program: str) -> None:
    assert chroma_image.resolve(program) is None
    assert program not in chroma_image.missing_on_host  # not listed at all, not merely absent here


def test_image_has_what_the_scripts_use(chroma_image: ImagePath) -> None:
    for program in ["bash", "sh", "mkdir", "flock", "chroma", "caddy", "dumb-init"]:
        assert chroma_image.resolve(program) is not None, program
    assert chroma_image.resolve("/usr/local/bin/knowledgebeast-chroma-healthcheck") is not None


def test_proxy_refuses_without_the_token_and_passes_with_it(running: Running) -> None:
    _, env = running
    base = f"http://127.0.0.1:{env['PROXY_PORT']}"
    token = env["CHROMA_AUTH_TOKEN"]
    heartbeat = f"{base}/api/v2/heartbeat"
    assert httpx.get(heartbeat).status_code == 401
    assert httpx.get(heartbeat, headers={"Authorization": "Bearer wrong-" + token}).status_code == 401
    assert httpx.get(heartbeat, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(heartbeat, headers={"X-Chroma-Token": token}).status_code == 200
    assert httpx.get(f"{base}/healthz").status_code == 200  # probes need no secret


def _runs(command: str, program: str) -> bool:
    """``caddy run ...`` or ``python /path/chroma run ...``: the program's name before ``run``."""
    words = command.split()
    return "run" in words and program in [Path(word).name for word in words[: words.index("run")]]


@pytest.mark.parametrize("victim", ["chroma", "caddy"])
def test_killing_either_process_stops_the_container(
    start_chroma_container: StartChroma, chroma_image: ImagePath, chroma_dockerfile: Dockerfile, victim: str
) -> None:
    entry, env = start_chroma_container()
    wait_healthy(Probe.from_healthcheck(chroma_dockerfile.healthcheck()), chroma_image, entry, env=env)
    (pid,) = [pid for pid, command in entry.descendants().items() if _runs(command, victim)]
    os.kill(pid, signal.SIGKILL)
    code = entry.wait(timeout=30)
    assert code != 0
    assert f"{victim} exited with status" in entry.output()
