"""containers/api/Dockerfile rehearsed without Docker.

The build stage's COPY and RUN instructions are replayed into a scratch folder (``/src`` and
``/opt`` moved there; the apt-get line is skipped: it only installs ``make``, which this machine
has), so the same build.sh steps build the runtime venv and the model by ``make models``. The
final stage's ENTRYPOINT + CMD then start with the image's ENV and a PATH of the base image's
programs plus the venv, and the exact HEALTHCHECK string must pass. A read-only root is checked
by the venv and model being byte-for-byte unchanged after serving (no bytecode written), and the
same image answers the ``backup`` and ``worker ingest`` commands.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.rehearsal.dockerfile import Dockerfile
from tests.rehearsal.harness import ImagePath, Probe, restricted_path, run_probe, start_entrypoint, wait_healthy
from tests.utils.servers import free_port

pytestmark = pytest.mark.slow

DOCKERFILE = REPO / "containers" / "api" / "Dockerfile"


@dataclass
class Built:
    root: Path
    dockerfile: Dockerfile
    venv: Path
    models: Path
    image: ImagePath

    def moved(self, value: str) -> str:
        return value.replace("/opt/", f"{self.root}/opt/")


def build_stage_steps(path: Path) -> list[tuple[str, str]]:
    """("COPY"|"RUN", arguments) of the first (build) stage, in order."""
    stages = [i for i, ins in enumerate(Dockerfile.read(path).instructions) if ins.keyword == "FROM"]
    instructions = Dockerfile.read(path).instructions[stages[0] + 1 : stages[1]]
    return [(i.keyword, i.arguments) for i in instructions if i.keyword in ("COPY", "RUN", "WORKDIR")]


def replay_build(root: Path) -> None:
    src = root / "src"
    workdir = src
    for keyword, arguments in build_stage_steps(DOCKERFILE):
        moved = arguments.replace("/src", str(src)).replace("/opt/", f"{root}/opt/")
        if keyword == "WORKDIR":
            workdir = Path(moved)
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = arguments.split()
            for source in sources:
                target = workdir / destination
                if destination.endswith("/"):
                    target = target / Path(source).name
                target.parent.mkdir(parents=True, exist_ok=True)
                if (REPO / source).is_dir():
                    shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(REPO / source, target)
        elif not arguments.startswith("apt-get"):
            subprocess.run(["sh", "-eu", "-c", moved], cwd=workdir, check=True)


def tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in path.rglob("*") if p.is_file()}


def size_mb(path: Path) -> float:
    return sum(tree(path).values()) / 1e6


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("api-image")
    replay_build(root)
    dockerfile = Dockerfile.read(DOCKERFILE)
    venv = root / "opt" / "venv"
    programs = {p.name: p for p in (venv / "bin").iterdir() if os.access(p, os.X_OK)}
    image = restricted_path(dockerfile.base_image(), root / "image-bin", added=programs)
    print(f"\nimage payload: venv {size_mb(venv):.1f} MB, models {size_mb(root / 'opt' / 'models'):.1f} MB")
    return Built(root, dockerfile, venv, root / "opt" / "models", image)


def container_env(built: Built, chroma_port: int, **extra: str) -> dict[str, str]:
    env = {key: built.moved(value) for key, value in built.dockerfile.env().items()}
    home = built.root / "tmp"
    home.mkdir(exist_ok=True)
    return {
        **env,
        "HOME": str(home),
        "DATA_DIR": str(home / "data"),
        "PORT": str(free_port()),
        "API_KEY": "image-rehearsal-key",
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_port),
        **extra,
    }


@pytest.fixture
def serving(built: Built, chroma_server: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    env = container_env(built, chroma_server.port)
    entry = start_entrypoint(built.dockerfile.entrypoint(), built.image, env=env, log=built.root / "serve.log")
    try:
        yield entry, env
    finally:
        entry.stop()


def test_build_steps_produce_the_runtime(built: Built) -> None:
    manifest = (built.models / "all-MiniLM-L6-v2" / "manifest.json").read_text()
    assert '"fp32"' in manifest
    assert not (built.venv / "bin" / "pip").exists()  # no installer left in the runtime
    assert list(built.venv.rglob("chromadb/api/__pycache__/*.pyc"))  # bytecode precompiled
    assert not list(built.venv.rglob("site-packages/torch"))


def test_entrypoint_serves_and_the_exact_healthcheck_passes(built: Built, serving: Any) -> None:
    entry, env = serving
    before = tree(built.venv), tree(built.models)
    probe = Probe.from_healthcheck(built.dockerfile.healthcheck())
    wait_healthy(probe, built.image, entry, env=env)
    # SIGTERM: graceful shutdown; uvicorn then re-raises the signal, so "killed by SIGTERM" is clean too
    assert entry.stop() in (0, -signal.SIGTERM)
    assert run_probe(probe, built.image, env=env).returncode != 0  # and the check notices it is gone
    assert (tree(built.venv), tree(built.models)) == before  # read-only root friendly: nothing written


def test_same_image_runs_backup_and_worker_by_command(built: Built, chroma_server: Any) -> None:
    env = container_env(built, chroma_server.port)
    dest = built.root / "tmp" / "backups"
    backup = start_entrypoint(
        ["knowledgebeast", "backup", "--dest", str(dest)], built.image, env=env, log=built.root / "backup.log"
    )
    assert backup.wait(timeout=300) == 0, backup.output()
    assert (dest / "latest").exists() or any(dest.rglob("manifest.json"))
    worker = start_entrypoint(["knowledgebeast", "worker", "ingest"], built.image, env=env, log=built.root / "w.log")
    assert worker.wait(timeout=120) == 2
    assert "--queue" in worker.output()
