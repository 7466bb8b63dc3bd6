"""Sentence embeddings with onnxruntime: the only embedder KnowledgeBeast ships.

Reproduces sentence-transformers' all-MiniLM-L6-v2 pipeline (truncate at 256 word pieces, mean
pooling over real tokens, L2 normalisation) on the ONNX graph built by ``make models``, so the
runtime needs onnxruntime + tokenizers + numpy and no torch. Parity with sentence-transformers is
pinned by ``tests/embedding`` against stored reference vectors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from knowledgebeast.embedding.model_files import load_manifest
from knowledgebeast.embedding.tokenizer import WordPieceTokenCounter, load_tokenizer
from knowledgebeast.errors import ConfigurationError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer


def available_cpus() -> int:
    """CPUs this process may run on (affinity, so cgroup cpusets count), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxEmbedder:
    """:class:`~knowledgebeast.embedding.base.EmbedderProtocol` on onnxruntime (CPU).

    Texts are tokenized once per call, sorted by length and run in batches of ``batch_size``
    padded only to the longest text of the batch: padding to a fixed length wastes compute, and
    the shipped tokenizer's fixed 128 also truncates. Results come back in input order.

    With ``variant="int8"`` activations are quantized per batch at run time, so a text's vector
    can differ slightly (cosine > 0.999) depending on which texts share its batch; fp32 vectors
    do not depend on batching beyond float rounding.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        variant: Literal["fp32", "int8"] = "fp32",
        batch_size: int = 32,
        max_tokens: int = 256,
        intra_op_threads: int | None = None,
    ) -> None:
        manifest = load_manifest(Path(model_dir))
        if batch_size < 1:
            raise ConfigurationError(f"embedding batch_size must be >= 1, got {batch_size}")
        if not 2 <= max_tokens <= manifest.max_position_embeddings:
            raise ConfigurationError(
                f"embedding max_tokens must be between 2 and {manifest.max_position_embeddings} "
                f"(the model's position limit), got {max_tokens}"
            )
        self.model_id = manifest.model_id
        self.dimension = manifest.dimension
        self.max_tokens = max_tokens
        self.variant = variant
        self.batch_size = batch_size
        self._tokenizer_path = manifest.tokenizer_path
        self._tokenizer = self._load_tokenizer(manifest.tokenizer_path, max_tokens)
        self._session = self._open_session(manifest.model_path(variant), intra_op_threads)
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._token_counter: WordPieceTokenCounter | None = None

    @staticmethod
    def _load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
        tokenizer = load_tokenizer(path)
        tokenizer.enable_truncation(max_length=max_tokens)  # counts [CLS] and [SEP], like ST
        return tokenizer

    def _open_session(self, path: Path, intra_op_threads: int | None) -> onnxruntime.InferenceSession:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        # One intra-op thread per CPU this process may use (Lambda: its vCPUs; a container: its
        # cpuset), not per core of the host, and no spin-waiting between runs: spinning threads
        # burn the CPU the request thread needs (measured: ~30% less CPU per embedded passage on a
        # busy 2-core host at equal wall time, docs/benchmarks.md).
        options.intra_op_num_threads = intra_op_threads or available_cpus()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped exceptions on bad files
            raise ConfigurationError(
                f"cannot load embedding model {path}: {exc}; run `make models` to rebuild it"
            ) from exc
        width = session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != self.dimension:
            raise ConfigurationError(
                f"embedding model {path} outputs {width} dimensions, its manifest says {self.dimension}"
            )
        return session

    @property
    def token_counter(self) -> WordPieceTokenCounter:
        """A counter over the same word pieces this embedder truncates at ``max_tokens``."""
        if self._token_counter is None:
            self._token_counter = WordPieceTokenCounter(self._tokenizer_path)
        return self._token_counter

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` into L2-normalised float32 rows, in input order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        token_ids = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        out = np.empty((len(token_ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._embed_batch([token_ids[i] for i in rows])
        return out

    def _embed_batch(self, token_ids: list[list[int]]) -> npt.NDArray[np.float32]:
        """Run one padded batch and pool it: mean over real tokens, then unit length."""
        width = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
        attention_mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        (hidden,) = self._session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._input_names})
        mask = attention_mask[:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
