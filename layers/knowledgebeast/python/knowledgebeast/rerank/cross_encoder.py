"""ONNX cross-encoder reranker (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2 exported to ONNX).

The model directory must hold ``model.onnx`` and ``tokenizer.json``; no PyPI package ships an
MS MARCO cross-encoder, so the user exports one (README: "Reranking"). Inputs are BERT-style pair
encodings; the first output's first logit is the relevance score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledgebeast.errors import ConfigurationError


class CrossEncoderReranker:
    def __init__(self, model_dir: Path, *, max_tokens: int = 512, batch_size: int = 16) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_file, tokenizer_file = model_dir / "model.onnx", model_dir / "tokenizer.json"
        if not model_file.is_file() or not tokenizer_file.is_file():
            raise ConfigurationError(f"reranker directory {model_dir} must contain model.onnx and tokenizer.json")
        self.model_id = model_dir.name
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(passages), self._batch_size):
            batch = [(query, passage) for passage in passages[start : start + self._batch_size]]
            encodings = self._tokenizer.encode_batch(batch)
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            logits = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            scores.extend(float(x) for x in np.asarray(logits).reshape(len(batch), -1)[:, 0])
        return scores
