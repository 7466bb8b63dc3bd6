"""The cross-encoder reranking path, run for real on a tiny ONNX cross-encoder the test builds.

Random weights: quality is not the point. What is checked is that the reranker feeds the model
real pair encodings and that the final order equals the model's raw scores sorted, computed here
independently with numpy from the same weights.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.rerank.cross_encoder import CrossEncoderReranker
from knowledgebeast.schemas import QueryRequest

HIDDEN = 8


@pytest.fixture(scope="module")
def tiny_cross_encoder(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """model.onnx: logits = (sum over real tokens of E[token] + T[type]) @ V; plus the MiniLM tokenizer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = tmp_path_factory.mktemp("cross-encoder")
    shutil.copy(model_dir / "tokenizer.json", out / "tokenizer.json")
    rng = np.random.default_rng(7)
    embedding = rng.normal(size=(30522, HIDDEN)).astype(np.float32)
    type_embedding = rng.normal(size=(2, HIDDEN)).astype(np.float32)
    projection = rng.normal(size=(HIDDEN, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["typ"]),
        helper.make_node("Add", ["tok", "typ"], ["emb"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "V"], ["logits"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_cross_encoder",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])],
        initializer=[
            numpy_helper.from_array(embedding, "E"),
            numpy_helper.from_array(type_embedding, "T"),
            numpy_helper.from_array(projection, "V"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(out / "model.onnx"))
    return out, embedding, type_embedding, projection


def _expected(directory: Path, weights: Any, query: str, passage: str) -> float:
    from tokenizers import Tokenizer

    _, embedding, type_embedding, projection = weights
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(512)
    encoding = tokenizer.encode(query, passage)
    pooled = (embedding[encoding.ids] + type_embedding[encoding.type_ids]).sum(axis=0)
    return float(pooled @ projection[:, 0])


def test_scores_equal_the_models_raw_output(tiny_cross_encoder: Any) -> None:
    directory = tiny_cross_encoder[0]
    reranker = CrossEncoderReranker(directory, batch_size=2)
    passages = ["short one", "a much longer passage about deploying stacks with cdk", "third", "x y z"]
    scores = reranker.score("how to deploy", passages)
    expected = [_expected(directory, tiny_cross_encoder, "how to deploy", p) for p in passages]
    assert scores == pytest.approx(expected, rel=1e-4, abs=1e-3)


def test_final_order_is_the_rerank_scores_sorted(
    tiny_cross_encoder: Any, http_store: Any, embedder: Any, collection_name: str
) -> None:
    directory = tiny_cross_encoder[0]
    ingest = IngestService(http_store, embedder, embedder.token_counter)
    for i, text in enumerate(
        [
            "Deploy with cdk deploy.",
            "Backups run hourly.",
            "The cache uses Redis.",
            "Rate limits are per key.",
            "Chunks keep heading paths.",
            "Ingest is idempotent.",
        ]
    ):
        ingest.ingest_bytes(text.encode(), collection=collection_name, source=f"d{i}.txt")
    service = QueryService(http_store, embedder, reranker=CrossEncoderReranker(directory))
    response = service.query(QueryRequest(query="how does it work", collection=collection_name, top_k=6, rerank=True))
    assert len(response.results) == 6
    raw = [_expected(directory, tiny_cross_encoder, "how does it work", r.text) for r in response.results]
    assert [r.rerank_score for r in response.results] == pytest.approx(raw, rel=1e-4, abs=1e-3)
    assert raw == sorted(raw, reverse=True)
    plain = service.query(QueryRequest(query="how does it work", collection=collection_name, top_k=6))
    assert all(r.rerank_score is None for r in plain.results)


def test_ready_reports_the_reranker(tiny_cross_encoder: Any, make_services: Any) -> None:
    from knowledgebeast.api.app import create_app

    client = TestClient(create_app(services=make_services(rerank_model_dir=tiny_cross_encoder[0])))
    assert client.get("/health/ready").json()["checks"]["reranker"]["status"] == "ok"
    disabled = TestClient(create_app(services=make_services()))
    assert disabled.get("/health/ready").json()["checks"]["reranker"]["status"] == "disabled"


def test_missing_files_are_a_configuration_error(tmp_path: Path) -> None:
    from knowledgebeast.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"model\.onnx and tokenizer\.json"):
        CrossEncoderReranker(tmp_path)
