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


def _sockets(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp(port: int) -> dict[int, str]:
    """inode -> state ("0A" listen, "01" established) of IPv4 sockets whose local port is ``port``."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            found[int(fields[9])] = fields[3]
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except OSError:
                continue
    return kids


def test_keep_alive_connections_spread_over_every_worker(tmp_path: Path, chroma_server: Any) -> None:
    """Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new connections;
    with one shared socket a busy worker could accept every keep-alive connection."""
    port = free_port()
    env = _env(tmp_path, WORKERS="2", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_server.port))
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) for _ in range(16)]
    try:
        deadline = time.monotonic() + 180
        while True:
            listening = {pid: _sockets(pid) for pid in _children(process.pid)}
            states = _tcp(port)
            listeners = {pid: [i for i in inodes if states.get(i) == "0A"] for pid, inodes in listening.items()}
            if sum(1 for found in listeners.values() if found) == 2:
                break
            assert time.monotonic() < deadline and process.poll() is None, "two listening workers never appeared"
            time.sleep(0.5)
        for client in clients:
            assert client.get("/health/live").status_code == 200  # one keep-alive connection each
        states = _tcp(port)
        per_worker = [
            sum(1 for inode in _sockets(pid) if states.get(inode) == "01") for pid, found in listeners.items() if found
        ]
        assert sum(per_worker) == 16
        assert min(per_worker) >= 2, per_worker  # all on one worker: the kernel did not spread them
    finally:
        for client in clients:
            client.close()
        process.terminate()
        assert process.wait(timeout=60) == 0


def _ready(port: int, process: subprocess.Popen[bytes]) -> None:
    wait_for_port(port, timeout=120, process=process)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("workers never became ready")
        time.sleep(0.5)


def _live_count(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("http_requests_total{") and 'route="/health/live"' in line and 'status="200"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_add_up_every_workers_requests(tmp_path: Path, chroma_server: Any) -> None:
    """WORKERS=2: /metrics sums both workers (prometheus-client multiprocess mode), whichever answers."""
    from concurrent.futures import ThreadPoolExecutor

    port, samples = free_port(), tmp_path / "prometheus"
    env = _env(
        tmp_path,
        WORKERS="2",
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=str(chroma_server.port),
        PROMETHEUS_MULTIPROC_DIR=str(samples),
    )
    samples.mkdir()
    (samples / "counter_1.db").write_bytes(b"stale")  # a previous run's file must not be counted
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _ready(port, process)

        def live(_: int) -> int:
            with httpx.Client() as client:  # a new connection each: the workers share the socket
                return client.get(f"http://127.0.0.1:{port}/health/live", timeout=30).status_code

        sent = 0
        for _ in range(20):  # until both workers have answered some (each then has its own sample file)
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(live, range(16))) == {200}
            sent += 16
            if len({path.stem.rsplit("_", 1)[1] for path in samples.glob("counter_*.db")}) >= 2:
                break
        pids = {path.stem.rsplit("_", 1)[1] for path in samples.glob("counter_*.db")}
        assert len(pids) == 2 and "1" not in pids, pids
        for _ in range(4):  # every scrape, whichever worker serves it, reports the sum
            assert _live_count(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text) == sent
    finally:
        process.terminate()
        process.wait(timeout=30)
