"""Chroma faults against the real app and the real ingest pipeline.

The Chroma server is killed (SIGKILL) and started again on the same port and data directory; the
SAME services object (no app restart, no reconnect call) must answer again, and an ingest cut
short by the outage must, once retried, leave exactly one copy of the document.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledgebeast.errors import StoreUnavailableError
from tests.utils.servers import ServerProcess

RUNBOOK = "\n\n".join(
    f"## Step {i}\n\nRestart worker pool {i} after draining its queue; page the on-call if it fails twice. " * 3
    for i in range(12)
)


def _count(services: Any, collection: str, document_id: str) -> tuple[int, int]:
    """(chunks stored for the document, chunk_count the registry committed)."""
    stored = services.store.get_where(collection, {"document_id": {"$eq": document_id}}, include_text=False)
    record = services.ingest_service.registry.get(document_id)
    return len(stored), (record.chunk_count if record else -1)


def test_query_503_while_chroma_is_down_then_recovers_without_restart(
    chroma_services: Any, chroma_up: ServerProcess, collection_name: str
) -> None:
    from knowledgebeast.api.app import create_app

    services = chroma_services(cache_ttl=0)  # no cache: every answer below comes from Chroma
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    body = {"text": "Incidents are reviewed every Thursday.", "source": "review.txt", "collection": collection_name}
    assert client.post("/api/v1/documents", json=body).status_code == 201
    question = {"query": "when are incidents reviewed", "collection": collection_name}
    before = client.post("/api/v1/query", json=question)
    assert before.status_code == 200 and before.json()["results"]

    chroma_up.kill()
    down = client.post("/api/v1/query", json=question)
    assert down.status_code == 503 and int(down.headers["retry-after"]) >= 1
    error = down.json()["error"]
    assert error["code"] == "store_unavailable" and error["request_id"] == down.headers["x-request-id"]
    assert "Traceback" not in down.text and "httpx" not in down.text.lower()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["store"]["status"] == "down"
    assert client.get("/health/live").status_code == 200
    listed = client.get("/api/v1/collections")
    assert listed.status_code == 503 and listed.json()["error"]["code"] == "store_unavailable"

    chroma_up.restart()
    after = client.post("/api/v1/query", json=question)
    assert after.status_code == 200, after.text
    assert after.json()["results"][0]["citation"]["source"] == "review.txt"
    assert [r["id"] for r in after.json()["results"]] == [r["id"] for r in before.json()["results"]]
    assert client.get("/health/ready").status_code == 200


def test_ingest_refused_while_down_then_succeeds_once(
    chroma_services: Any, chroma_up: ServerProcess, collection_name: str
) -> None:
    from knowledgebeast.api.app import create_app

    services = chroma_services()
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    assert client.get("/api/v1/collections").status_code == 200  # connected before the outage
    chroma_up.kill()
    body = {"text": RUNBOOK, "source": "runbook.md", "collection": collection_name, "media_type": "text/markdown"}
    refused = client.post("/api/v1/documents", json=body)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"
    assert refused.headers["retry-after"]

    chroma_up.restart()
    created = client.post("/api/v1/documents", json=body)
    assert created.status_code == 201 and created.json()["outcome"] == "indexed"
    doc_id, chunks = created.json()["document_id"], created.json()["chunks"]
    assert chunks > 5
    assert _count(services, collection_name, doc_id) == (chunks, chunks)
    assert client.post("/api/v1/documents", json=body).json()["outcome"] == "unchanged"
    assert _count(services, collection_name, doc_id) == (chunks, chunks)


@pytest.mark.parametrize("fail_at", ["after_upsert", "after_stale_delete", "before_registry_commit"])
def test_chroma_dying_mid_ingest_then_retry_leaves_exactly_one_version(
    chroma_services: Any, chroma_up: ServerProcess, collection_name: str, fail_at: str
) -> None:
    """Chroma is SIGKILLed at three points between the chunk upsert and the registry commit; the
    ingest fails with StoreUnavailableError, and a retry after Chroma returns converges."""
    services = chroma_services()
    ingest = services.ingest_service
    old = ingest.ingest_bytes(
        b"Version one of the pager policy: page after 5 minutes.", collection=collection_name, source="pager.md"
    )
    store = services.store
    killed = {"done": False}

    def kill_once() -> None:
        if not killed["done"]:
            killed["done"] = True
            chroma_up.kill()

    if fail_at == "after_upsert":
        original_upsert = store.upsert

        def upsert(collection: str, *args: Any, **kwargs: Any) -> None:
            original_upsert(collection, *args, **kwargs)
            if collection == collection_name:
                kill_once()

        store.upsert = upsert
    elif fail_at == "after_stale_delete":
        original_delete = store.delete_ids

        def delete_ids(*args: Any, **kwargs: Any) -> None:
            original_delete(*args, **kwargs)
            kill_once()

        store.delete_ids = delete_ids
    else:
        original_put = ingest.registry.put

        def put(*args: Any, **kwargs: Any) -> None:
            kill_once()
            original_put(*args, **kwargs)

        ingest.registry.put = put
    try:
        with pytest.raises(StoreUnavailableError):
            ingest.ingest_bytes(RUNBOOK.encode(), collection=collection_name, source="pager.md", filename="pager.md")
    finally:
        for name in ("upsert", "delete_ids"):
            store.__dict__.pop(name, None)
        ingest.registry.__dict__.pop("put", None)
    assert killed["done"]

    chroma_up.restart()
    # the registry still names version one: the interrupted ingest never committed
    assert ingest.registry.get(old.document_id).content_hash != ""
    retried = ingest.ingest_bytes(RUNBOOK.encode(), collection=collection_name, source="pager.md", filename="pager.md")
    assert retried.outcome == "replaced" and retried.chunks > 5
    stored, committed = _count(services, collection_name, old.document_id)
    assert stored == committed == retried.chunks
    texts = store.get_where(collection_name, {"document_id": {"$eq": old.document_id}})
    assert not any("Version one" in chunk.text for chunk in texts)
    assert len({chunk.id for chunk in texts}) == stored
