"""One Chroma writer per data directory: a second container on the same directory waits, then refuses.

Both containers are the real entrypoint with the image's PATH (flock comes from util-linux, which
the base image has). EFS gives the same exclusion across hosts: Linux maps flock onto NFSv4 locks.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.rehearsal.conftest import StartChroma
from tests.rehearsal.dockerfile import Dockerfile
from tests.rehearsal.harness import ImagePath, Probe, RunningEntrypoint, wait_healthy

pytestmark = pytest.mark.slow


def _wait_for_log(entry: RunningEntrypoint, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in entry.output():
        if entry.returncode() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the log (exit {entry.returncode()}):\n{entry.output()}")
        time.sleep(0.1)


def test_second_writer_on_the_same_directory_refuses(
    start_chroma_container: StartChroma, chroma_image: ImagePath, chroma_dockerfile: Dockerfile, tmp_path: Path
) -> None:
    probe = Probe.from_healthcheck(chroma_dockerfile.healthcheck())
    data = str(tmp_path / "shared-data")
    first, first_env = start_chroma_container(CHROMA_DATA_DIR=data)
    wait_healthy(probe, chroma_image, first, env=first_env)

    second, _ = start_chroma_container(CHROMA_DATA_DIR=data, CHROMA_LOCK_WAIT_SECONDS="1")
    assert second.wait(timeout=60) == 75
    log = second.output()
    assert "another Chroma process holds" in log
    assert f"refusing to start: {data} already has a running Chroma writer" in log
    assert "chroma run" not in " ".join(second.descendants().values())
    # The first writer never noticed.
    assert first.returncode() is None
    token = first_env["CHROMA_AUTH_TOKEN"]
    heartbeat = f"http://127.0.0.1:{first_env['PROXY_PORT']}/api/v2/heartbeat"
    assert httpx.get(heartbeat, headers={"X-Chroma-Token": token}).status_code == 200


def test_replacement_waits_for_the_old_writer_to_stop(
    start_chroma_container: StartChroma, chroma_image: ImagePath, chroma_dockerfile: Dockerfile, tmp_path: Path
) -> None:
    """A task started inside the old task's stop window takes over once the old one has exited."""
    probe = Probe.from_healthcheck(chroma_dockerfile.healthcheck())
    data = str(tmp_path / "shared-data")
    old, old_env = start_chroma_container(CHROMA_DATA_DIR=data)
    wait_healthy(probe, chroma_image, old, env=old_env)

    new, new_env = start_chroma_container(CHROMA_DATA_DIR=data, CHROMA_LOCK_WAIT_SECONDS="300")
    _wait_for_log(new, "waiting up to 300 s")
    assert "single-writer lock taken" not in new.output()
    assert new.returncode() is None

    old.stop()
    assert old.returncode() is not None
    wait_healthy(probe, chroma_image, new, env=new_env)
    assert "single-writer lock taken" in new.output()
