"""The built model and the sentence-transformers reference vectors, shared by the embedding tests.

The recipe always runs (it returns in a fraction of a second when the build is current), so a
stale build from an older recipe version is rebuilt instead of silently tested.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
MODEL_DIR = REPO / "build" / "models" / "all-MiniLM-L6-v2"
REFERENCE = REPO / "tests" / "fixtures" / "embeddings" / "reference_vectors.json"


@pytest.fixture(scope="session")
def built_model_dir() -> Path:
    """fp32 + int8 model folder, built by ``layers/models/build_model.py`` unless up to date."""
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
def reference() -> dict[str, Any]:
    """Texts and their sentence-transformers vectors (scripts/make_reference_vectors.py)."""
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def reference_texts(reference: dict[str, Any]) -> list[str]:
    return [item["text"] for item in reference["items"]]


@pytest.fixture(scope="session")
def reference_vectors(reference: dict[str, Any]) -> np.ndarray:
    vectors = np.array([item["vector"] for item in reference["items"]], dtype=np.float32)
    # stored rounded to 6 decimals: renormalise so cosines are not capped just below 1
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def fp32_embedder(built_model_dir: Path) -> Any:
    from knowledgebeast.embedding import OnnxEmbedder

    return OnnxEmbedder(built_model_dir, variant="fp32")


@pytest.fixture(scope="session")
def int8_embedder(built_model_dir: Path) -> Any:
    from knowledgebeast.embedding import OnnxEmbedder

    return OnnxEmbedder(built_model_dir, variant="int8")
