"""Every route of the HTTP API against real Chroma, through the real FastAPI app."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code and body["message"] and body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def test_query_returns_ranked_citations(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    response = client.post(
        "/api/v1/query", json={"query": "how to deploy on AWS", "collection": collection, "top_k": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["collection"] == collection and body["cached"] is False and body["took_ms"] >= 0
    top = body["results"][0]
    assert top["citation"]["source"] == "deploy.md" and top["citation"]["title"] == "Deploy"
    assert "kb_terms" not in top["metadata"]
    assert response.headers["x-request-id"]
    again = client.post("/api/v1/query", json={"query": "how to deploy on AWS", "collection": collection, "top_k": 2})
    assert again.json()["cached"] is True


def test_documents_lifecycle(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    created = client.post(
        "/api/v1/documents",
        json={
            "text": "Temporary note about pagers.",
            "source": "tmp.txt",
            "collection": collection,
            "title": "Pager note",
        },
    )
    assert created.status_code == 201 and created.json()["outcome"] == "indexed"
    doc_id = created.json()["document_id"]
    same = client.post(
        "/api/v1/documents",
        json={
            "text": "Temporary note about pagers.",
            "source": "tmp.txt",
            "collection": collection,
            "title": "Pager note",
        },
    )
    assert same.json()["outcome"] == "unchanged"
    info = client.get(f"/api/v1/documents/{doc_id}")
    assert info.status_code == 200 and info.json()["title"] == "Pager note" and info.json()["chunk_count"] == 1
    assert client.delete(f"/api/v1/documents/{doc_id}").json()["outcome"] == "deleted"
    _error(client.get(f"/api/v1/documents/{doc_id}"), 404, "document_not_found")
    _error(client.delete(f"/api/v1/documents/{doc_id}"), 404, "document_not_found")


def test_upload_file_and_errors(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    html = (
        b"<html><head><title>Runbook</title><script>alert(1)</script></head>"
        b"<body><h1>Runbook</h1><p>Restart pods.</p></body></html>"
    )
    response = client.post(
        "/api/v1/documents/upload",
        data={"collection": collection, "metadata": '{"team": "sre"}'},
        files={"file": ("runbook.html", html, "text/html")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Runbook"
    _error(
        client.post(
            "/api/v1/documents/upload",
            data={"collection": collection},
            files={"file": ("x.exe", b"MZ\x00\x00binary", "application/octet-stream")},
        ),
        415,
        "unsupported_format",
    )
    _error(
        client.post(
            "/api/v1/documents/upload",
            data={"collection": collection},
            files={"file": ("broken.pdf", b"%PDF-1.7 truncated", "application/pdf")},
        ),
        422,
        "parse_error",
    )
    _error(
        client.post(
            "/api/v1/documents/upload",
            data={"collection": collection, "metadata": "[1]"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        ),
        422,
        "validation_error",
    )


def test_collections_routes(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    names = [c["name"] for c in client.get("/api/v1/collections").json()["collections"]]
    assert collection in names and "kb-documents-registry" not in names
    info = client.get(f"/api/v1/collections/{collection}").json()
    assert info["chunks"] >= 2 and info["documents"] == 2
    assert client.delete(f"/api/v1/collections/{collection}").status_code == 200
    _error(client.get(f"/api/v1/collections/{collection}"), 404, "collection_not_found")
    _error(client.post("/api/v1/query", json={"query": "x", "collection": collection}), 404, "collection_not_found")


def test_query_input_errors(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    _error(
        client.post("/api/v1/query", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "malformed_json",
    )
    _error(client.post("/api/v1/query", json={"query": ""}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x" * 2001}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x", "top_k": 0}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x", "top_k": 101}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x", "top_k": "many"}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x", "mode": "psychic"}), 422, "validation_error")
    _error(client.post("/api/v1/query", json={"query": "x", "unknown": 1}), 422, "validation_error")
    _error(
        client.post("/api/v1/query", json={"query": "x", "collection": collection, "filters": {"a": {"$regex": "b"}}}),
        400,
        "invalid_filter",
    )
    _error(
        client.post("/api/v1/query", json={"query": "x", "collection": collection, "rerank": True}), 400, "bad_request"
    )
    _error(
        client.post("/api/v1/query", content=b"query=x", headers={"content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    _error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _error(
        client.post("/api/v1/query", content=b"x" * (60 * 1024 * 1024), headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )


def test_health_endpoints(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "healthy" and health["version"] and health["timestamp"]
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["store"]["status"] == "ok" and checks["reranker"]["status"] == "disabled"
    assert client.get("/openapi.json").json()["paths"]["/api/v1/query"]["post"]


def test_ready_is_503_when_store_is_down(make_services: Any) -> None:
    from knowledgebeast.api.app import create_app
    from tests.utils.servers import free_port

    services = make_services(chroma_port=free_port())
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["store"]["status"] == "down"
    response = client.post("/api/v1/query", json={"query": "x"})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["error"]["code"] == "store_unavailable"
