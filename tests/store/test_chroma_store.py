"""The Chroma adapter over a real `chroma run` server and the embedded client alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from knowledgebeast.errors import CollectionNotFoundError, StoreUnavailableError


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_upsert_search_filter_delete(store: Any, collection_name: str) -> None:
    store.ensure_collection(collection_name, {"kb_model": "m"})
    vectors = _vectors(20)
    ids = [f"c{i}" for i in range(20)]
    metas = [{"document_id": f"d{i % 4}", "n": i, "team": "a" if i % 2 else "b"} for i in range(20)]
    store.upsert(collection_name, ids, vectors, [f"text {i}" for i in range(20)], metas)
    hits = store.search(collection_name, vectors[7], limit=3)
    assert hits[0].id == "c7" and hits[0].text == "text 7"
    assert hits[0].distance == pytest.approx(0.0, abs=1e-4)  # cosine space, not l2
    filtered = store.search(collection_name, vectors[7], limit=20, where={"team": {"$eq": "b"}})
    assert filtered and all(h.metadata["team"] == "b" for h in filtered)
    assert store.delete_where(collection_name, {"document_id": {"$eq": "d1"}}) == 5
    assert store.collection_info(collection_name).count == 15
    # upsert of an existing id replaces it (Chroma's add would silently ignore it)
    store.upsert(collection_name, ["c0"], vectors[:1], ["changed"], [{"document_id": "d0"}])
    assert any(c.text == "changed" for c in store.get_where(collection_name, {"document_id": {"$eq": "d0"}}))


def test_batches_larger_than_batch_size(store: Any, collection_name: str) -> None:
    store._batch_size = 7
    store.ensure_collection(collection_name)
    store.upsert(collection_name, [str(i) for i in range(30)], _vectors(30), ["t"] * 30, [{"k": i} for i in range(30)])
    assert store.collection_info(collection_name).count == 30
    page = store.export_page(collection_name, offset=0, limit=25)
    assert len(page.chunks) == 25 and page.next_offset == 25 and page.chunks[0].embedding is not None
    assert store.export_page(collection_name, offset=25, limit=25).next_offset is None


def test_unknown_collection_is_not_found(store: Any) -> None:
    with pytest.raises(CollectionNotFoundError):
        store.collection_info("does-not-exist")
    with pytest.raises(CollectionNotFoundError):
        store.search("does-not-exist", _vectors(1)[0], limit=1)


def test_collection_metadata_merge(store: Any, collection_name: str) -> None:
    store.ensure_collection(collection_name, {"kb_model": "m"})
    store.set_collection_metadata(collection_name, {"kb_version": "v2"})
    assert store.collection_metadata(collection_name) == {"kb_model": "m", "kb_version": "v2"}


def test_unreachable_server_is_store_unavailable() -> None:
    from knowledgebeast.store.chroma import ChromaStore
    from tests.utils.servers import free_port

    with pytest.raises(StoreUnavailableError):
        ChromaStore.http("127.0.0.1", free_port())
