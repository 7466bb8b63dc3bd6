"""Behaviour of OnnxEmbedder that callers rely on: shapes, order, batching, truncation, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledgebeast.embedding import EmbedderProtocol, OnnxEmbedder, WordPieceTokenCounter
from knowledgebeast.errors import ConfigurationError

TEXTS = [
    "short",
    "A somewhat longer sentence about vector databases and retrieval.",
    "",
    "Numbers 1, 2, 3.5 and symbols #@! mixed in",
    "word " * 300,
    "Ünïcödé text — with dashes",
    "another short one",
]


def test_satisfies_protocol(fp32_embedder: OnnxEmbedder) -> None:
    assert isinstance(fp32_embedder, EmbedderProtocol)
    assert fp32_embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (fp32_embedder.dimension, fp32_embedder.max_tokens) == (384, 256)


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_shape_dtype_and_unit_rows(built_model_dir: Path, variant: Any) -> None:
    vectors = OnnxEmbedder(built_model_dir, variant=variant).embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(fp32_embedder: OnnxEmbedder) -> None:
    vectors = fp32_embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_single_string_is_rejected(fp32_embedder: OnnxEmbedder) -> None:
    with pytest.raises(TypeError):
        fp32_embedder.embed("not a list")


def test_batched_equals_one_by_one(fp32_embedder: OnnxEmbedder) -> None:
    batched = fp32_embedder.embed(TEXTS)
    single = np.stack([fp32_embedder.embed([text])[0] for text in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_small_batches_keep_input_order(built_model_dir: Path, fp32_embedder: OnnxEmbedder) -> None:
    """Length sorting across several batches must not reorder the output."""
    small = OnnxEmbedder(built_model_dir, batch_size=2)
    np.testing.assert_allclose(small.embed(TEXTS), fp32_embedder.embed(TEXTS), atol=1e-5)


def test_int8_batching_changes_vectors_only_slightly(int8_embedder: OnnxEmbedder) -> None:
    """Activation scales are per batch in dynamic int8, so batch-mates shift a vector a little.

    Measured: cosine batched vs alone >= 0.98 for real text; 0.96 for the empty string, whose two
    tokens are quantized on the range of much longer batch-mates.
    """
    batched = int8_embedder.embed(TEXTS)
    single = np.stack([int8_embedder.embed([text])[0] for text in TEXTS])
    cosines = (batched * single).sum(axis=1)
    assert cosines.min() >= 0.95
    assert np.median(cosines) >= 0.98


def test_truncates_at_max_tokens_not_at_128(fp32_embedder: OnnxEmbedder) -> None:
    """The shipped tokenizer.json truncates to 128; the embedder must read up to 256 (with specials)."""
    counter = fp32_embedder.token_counter
    prefix = " ".join(f"alpha{i}" for i in range(70))
    assert 128 < counter.count(prefix) < 200
    within = fp32_embedder.embed([prefix + " apples and pears", prefix + " quantum field theory"])
    assert float(within[0] @ within[1]) < 0.999  # words after token 128 change the vector

    long_prefix = prefix + " " + " ".join(f"beta{i}" for i in range(60))
    assert counter.count(long_prefix) > 256
    beyond = fp32_embedder.embed([long_prefix + " apples and pears", long_prefix + " quantum field theory"])
    np.testing.assert_allclose(beyond[0], beyond[1], atol=1e-6)  # past 256 nothing is read


def test_token_counter_property(fp32_embedder: OnnxEmbedder) -> None:
    counter = fp32_embedder.token_counter
    assert isinstance(counter, WordPieceTokenCounter)
    assert counter is fp32_embedder.token_counter
    assert counter.count("word " * 300) == 300  # counting never truncates


def test_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="make models"):
        OnnxEmbedder(tmp_path / "nowhere")


def test_missing_variant(built_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    manifest = json.loads((built_model_dir / "manifest.json").read_text())
    del manifest["variants"]["fp32"]
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(built_model_dir / "tokenizer.json", model_dir / "tokenizer.json")
    with pytest.raises(ConfigurationError, match="'fp32'"):
        OnnxEmbedder(model_dir, variant="fp32")


def test_truncated_model_file(built_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("manifest.json", "tokenizer.json"):
        shutil.copy(built_model_dir / name, model_dir / name)
    (model_dir / "model_int8.onnx").write_bytes(b"\x08\x07")
    with pytest.raises(ConfigurationError, match="does not match its manifest"):
        OnnxEmbedder(model_dir, variant="int8")


def test_unreadable_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="unreadable"):
        OnnxEmbedder(tmp_path)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"max_tokens": 1}, {"max_tokens": 513}])
def test_invalid_arguments(built_model_dir: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        OnnxEmbedder(built_model_dir, **kwargs)  # type: ignore[arg-type]


def test_package_import_does_not_load_runtime_libraries() -> None:
    """Cold start: importing the package must not pull onnxruntime or tokenizers."""
    code = (
        "import sys, knowledgebeast.embedding, knowledgebeast.embedding.onnx_embedder;"
        "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'onnx', 'safetensors') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
