"""`knowledgebeast serve` with WORKERS: several processes against a Chroma server, refused when embedded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.utils.servers import free_port, wait_for_port

CLI = [sys.executable, "-m", "knowledgebeast.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHROMA_HOST", "REDIS_HOST", "API_KEY", "JWT_SECRET")}
    env.update(APP_ENV="test", DATA_DIR=str(tmp_path / "data"), **extra)
    return env


def test_workers_need_a_chroma_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "serve", "--port", str(free_port())],
        env=_env(tmp_path, WORKERS="2"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "WORKERS > 1 needs a Chroma server" in done.stderr


def test_two_workers_serve_against_a_chroma_server(tmp_path: Path, chroma_server: Any) -> None:
    port = free_port()
    env = _env(tmp_path, WORKERS="2", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_server.port))
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, timeout=120, process=process)
        deadline = time.monotonic() + 120
        while True:  # workers may still be loading the model when the socket opens
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("workers never became ready")
            time.sleep(0.5)
        assert response.json()["checks"]["store"]["mode"] == "http"
    finally:
        process.terminate()
        process.wait(timeout=30)
