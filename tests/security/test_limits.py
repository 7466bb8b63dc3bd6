"""Resource limits: concurrent query slots (503), query timeout (504) and every input bound.

The slow query is the real query path over real Chroma with the real ONNX embedder, whose
``embed`` is held back by a gate or a sleep: the only thing faked is time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from tests.security.helpers import assert_error


class SlowEmbedder:
    """The real embedder, but every call waits for ``gate`` (or ``delay`` seconds) first."""

    def __init__(self, inner: Any, *, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.inner = inner
        self.delay = delay
        self.gate = gate
        self.calls = 0
        self.finished = threading.Event()
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(timeout=120)  # a safety net only: tests open the gate themselves
        if self.delay:
            time.sleep(self.delay)
        try:
            return self.inner.embed(texts)
        finally:
            self.finished.set()


def _app(make_services: Any, embedder: Any, collection: str, **settings: Any) -> tuple[Any, Any]:
    """An app whose QueryService embeds slowly; the collection is indexed with the normal embedder."""
    from knowledgebeast.api.app import create_app

    services = make_services(**settings)
    services.ingest_service.ingest_bytes(b"Slow answers are still answers.", collection=collection, source="s.txt")
    return create_app(services=services), services


def _post(app: Any, collection: str, text: str) -> Any:
    client = TestClient(app, raise_server_exceptions=False)
    return client.post("/api/v1/query", json={"query": text, "collection": collection})


def _wait_for(condition: Any, what: str) -> None:
    """Poll until ``condition()``; the bound only turns a hang into a failure, it is never the assertion."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_full_query_slots_answer_503_quickly(make_services: Any, embedder: Any, collection_name: str) -> None:
    app, services = _app(make_services, embedder, collection_name, max_concurrent_queries=1, query_timeout=120)
    gate = threading.Event()
    slow = SlowEmbedder(embedder, gate=gate)
    services.query_service.embedder = slow
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_post, app, collection_name, "first question")
        _wait_for(lambda: slow.calls == 1, "the first query to take the only slot")
        # The first query is held by the gate, which only this test opens, and only after the
        # second one has answered: so the 503 proves the second query gave up on the slot instead
        # of waiting for it (a hang would show up as the timeout below, far from the 1 s wait).
        refused = pool.submit(_post, app, collection_name, "second question").result(timeout=120)
        error = assert_error(refused, 503, "service_unavailable")
        assert refused.headers["retry-after"] == "1" and "concurrent" in error["message"]
        assert not gate.is_set() and slow.calls == 1  # the refused query never reached the embedder
        gate.set()
        answered = first.result(timeout=120)
    assert answered.status_code == 200 and answered.json()["results"]
    assert app.state.query_limiter.in_use == 0


def test_query_timeout_answers_504_and_keeps_the_slot_until_the_work_ends(
    make_services: Any, embedder: Any, collection_name: str
) -> None:
    app, services = _app(make_services, embedder, collection_name, max_concurrent_queries=1, query_timeout=0.5)
    gate = threading.Event()
    slow = SlowEmbedder(embedder, gate=gate)
    services.query_service.embedder = slow
    # The embed cannot finish before the gate opens, so a 504 here can only come from the timeout.
    timed_out = _post(app, collection_name, "a slow question")
    error = assert_error(timed_out, 504, "query_timeout")
    assert "0.5 s" in error["message"]
    assert slow.calls == 1 and not slow.finished.is_set()
    # the abandoned embed is still running: its slot is still taken, so a new query is refused (503)
    # instead of stacking a second thread of work behind a dependency that is already too slow
    assert app.state.query_limiter.in_use == 1
    busy = _post(app, collection_name, "another question")
    assert_error(busy, 503, "service_unavailable")
    assert slow.calls == 1  # refused before any work
    gate.set()
    _wait_for(slow.finished.is_set, "the abandoned embed to finish")
    _wait_for(lambda: app.state.query_limiter.in_use == 0, "the slot to be released")
    services.query_service.embedder = embedder
    recovered = _post(app, collection_name, "a fast question")
    assert recovered.status_code == 200


def test_slots_are_released_after_errors(make_services: Any, embedder: Any, collection_name: str) -> None:
    app, _ = _app(make_services, embedder, collection_name, max_concurrent_queries=1)
    client = TestClient(app, raise_server_exceptions=False)
    for _ in range(3):
        assert_error(
            client.post("/api/v1/query", json={"query": "x", "collection": "no-such-coll"}), 404, "collection_not_found"
        )
    assert app.state.query_limiter.in_use == 0
    assert client.post("/api/v1/query", json={"query": "x", "collection": collection_name}).status_code == 200


@pytest.fixture
def bounded(make_services: Any, embedder: Any, collection_name: str) -> tuple[TestClient, str]:
    app, _ = _app(
        make_services,
        embedder,
        collection_name,
        max_query_length=50,
        max_top_k=10,
        max_filter_depth=2,
        max_upload_bytes=4096,
        max_pdf_pages=3,
    )
    return TestClient(app, raise_server_exceptions=False), collection_name


def test_query_length_and_top_k_follow_the_settings(bounded: tuple[TestClient, str]) -> None:
    client, collection = bounded
    ok = client.post("/api/v1/query", json={"query": "q" * 50, "top_k": 10, "collection": collection})
    assert ok.status_code == 200
    error = assert_error(
        client.post("/api/v1/query", json={"query": "q" * 51, "collection": collection}), 422, "validation_error"
    )
    assert error["details"] == {"field": "query", "max": 50}
    error = assert_error(
        client.post("/api/v1/query", json={"query": "q", "top_k": 11, "collection": collection}),
        422,
        "validation_error",
    )
    assert error["details"] == {"field": "top_k", "max": 10}
    # the schema's hard ceilings hold whatever the settings say
    assert_error(client.post("/api/v1/query", json={"query": "q" * 2001}), 422, "validation_error")
    assert_error(client.post("/api/v1/query", json={"query": "q", "top_k": 101}), 422, "validation_error")


def test_filter_depth_and_size_are_bounded(bounded: tuple[TestClient, str]) -> None:
    client, collection = bounded
    shallow = {"$and": [{"a": 1}, {"b": {"$in": [1, 2]}}]}
    assert (
        client.post("/api/v1/query", json={"query": "q", "collection": collection, "filters": shallow}).status_code
        == 200
    )
    deep = {"$and": [{"$or": [{"a": 1}, {"b": 2}]}, {"c": 3}]}
    error = assert_error(
        client.post("/api/v1/query", json={"query": "q", "collection": collection, "filters": deep}),
        400,
        "invalid_filter",
    )
    assert "deeper than 2" in error["message"]
    # wide: Chroma itself fails on ~1000 OR-ed conditions; refused up front as a 400, not a 500
    wide = {"$or": [{"a": i} for i in range(101)]}
    assert_error(
        client.post("/api/v1/query", json={"query": "q", "collection": collection, "filters": wide}),
        400,
        "invalid_filter",
    )
    many_keys = {f"k{i}": i for i in range(101)}
    assert_error(
        client.post("/api/v1/query", json={"query": "q", "collection": collection, "filters": many_keys}),
        400,
        "invalid_filter",
    )
    # pathological JSON nesting never reaches the filter code: the parser refuses it
    nested = '{"query": "q", "filters": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    response = client.post("/api/v1/query", content=nested, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["request_id"]


def test_request_body_limits(make_services: Any, embedder: Any, collection_name: str) -> None:
    app, _ = _app(make_services, embedder, collection_name, max_upload_bytes=2 * 1024 * 1024)
    client = TestClient(app, raise_server_exceptions=False)
    big_query = b'{"query": "' + b"x" * (1024 * 1024) + b'"}'
    error = assert_error(
        client.post("/api/v1/query", content=big_query, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert error["details"] == {"max_bytes": 1024 * 1024}

    def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(40):
            yield b"x" * 65536

    streamed = client.post("/api/v1/query", content=chunks(), headers={"content-type": "application/json"})
    assert_error(streamed, 413, "payload_too_large")
    # document routes take up to MAX_UPLOAD_BYTES (+ multipart overhead), not the 1 MiB of the others:
    # 1.5 MB gets through to the parser (which refuses the format), 3 MB does not
    mid = client.post(
        "/api/v1/documents/upload",
        data={"collection": collection_name},
        files={"file": ("blob.bin", b"\x00\x01" * 750_000, "application/octet-stream")},
    )
    assert_error(mid, 415, "unsupported_format")
    assert_error(
        client.post(
            "/api/v1/documents/upload",
            data={"collection": collection_name},
            files={"file": ("big.txt", b"y" * 3_000_000, "text/plain")},
        ),
        413,
        "payload_too_large",
    )


def test_upload_size_and_pdf_pages(bounded: tuple[TestClient, str]) -> None:
    from tests.utils.pdf_builder import text_pdf

    client, collection = bounded
    fits = client.post(
        "/api/v1/documents/upload",
        data={"collection": collection},
        files={"file": ("ok.txt", b"small enough " * 100, "text/plain")},
    )
    assert fits.status_code == 201, fits.text
    too_big = client.post(
        "/api/v1/documents/upload",
        data={"collection": collection},
        files={"file": ("big.txt", b"z" * 5000, "text/plain")},
    )
    error = assert_error(too_big, 413, "payload_too_large")
    assert "4096" in error["message"]
    three = text_pdf([[f"Page {i} text."] for i in range(3)])
    assert (
        client.post(
            "/api/v1/documents/upload",
            data={"collection": collection},
            files={"file": ("three.pdf", three, "application/pdf")},
        ).status_code
        == 201
    )
    five = text_pdf([[f"Page {i} text."] for i in range(5)])
    pages = client.post(
        "/api/v1/documents/upload",
        data={"collection": collection},
        files={"file": ("five.pdf", five, "application/pdf")},
    )
    assert pages.status_code == 413
    assert "page count 5 exceeds the limit of 3" in pages.json()["error"]["message"]
