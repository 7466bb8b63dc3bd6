"""Session-wide real components: the ONNX model, a `chroma run` server, a Redis-protocol server.

Imports of the package happen inside fixtures so that tests/cdk (run from the CDK venv) can share
this file without the application's dependencies.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = REPO / "build" / "models" / "all-MiniLM-L6-v2"
#: The build-only interpreter (torch, optimum) that exports models; `make models` creates it.
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The fp32 + int8 model, built by the layers/models recipe if not cached."""
    if not (MODEL_DIR / "manifest.json").is_file():
        subprocess.run(
            [
                str(BUILD_PYTHON),
                str(REPO / "layers" / "models" / "build_model.py"),
                "--out",
                str(MODEL_DIR),
                "--variants",
                "fp32,int8",
            ],
            check=True,
        )
    return MODEL_DIR


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Any:
    from knowledgebeast.embedding.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(model_dir)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.utils.servers import start_chroma

    server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    from tests.utils.servers import start_redis

    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def collection_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["http", "embedded"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The Chroma adapter over both backends: behaviour must match."""
    from knowledgebeast.store.chroma import ChromaStore

    if request.param == "http":
        server = request.getfixturevalue("chroma_server")
        return ChromaStore.http("127.0.0.1", server.port)
    return ChromaStore.persistent(tmp_path / "chroma")


@pytest.fixture
def http_store(chroma_server: Any) -> Any:
    from knowledgebeast.store.chroma import ChromaStore

    return ChromaStore.http("127.0.0.1", chroma_server.port)


@pytest.fixture
def make_settings(chroma_server: Any, tmp_path: Path) -> Any:
    """Settings against the test Chroma server; keyword overrides win."""
    from knowledgebeast.config import Settings

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_env": "test",
            "chroma_host": "127.0.0.1",
            "chroma_port": chroma_server.port,
            "redis_host": None,
            # Production's 0.25 s would make a busy CI machine fail Redis over to the in-process
            # fallback at random; fault tests that need a short timeout set it themselves.
            "redis_timeout_seconds": 5.0,
            "data_dir": tmp_path / "data",
            "embedding_model_dir": MODEL_DIR,
            "api_key": None,
            "jwt_secret": None,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def make_services(make_settings: Any, embedder: Any) -> Any:
    """Services with the session's embedder injected (the model loads once per test session)."""
    from knowledgebeast.factory import Services

    def factory(**overrides: Any) -> Services:
        services = Services(make_settings(**overrides))
        services.__dict__["embedder"] = embedder
        return services

    return factory


@pytest.fixture(autouse=True)
def _no_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach a real AWS account."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
