"""OpenAPI declares both credentials and documents every response field; min_score filters and is bounded."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_security_schemes_make_swagger_offer_authorize(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["BearerJWT"]["type"] == "http"
    assert schemes["BearerJWT"]["scheme"] == "bearer"
    assert schemes["BearerJWT"]["bearerFormat"] == "JWT"


def test_every_api_operation_accepts_either_credential(spec: dict[str, Any]) -> None:
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1/")
    ]
    assert len(operations) >= 9
    for path, method, operation in operations:
        assert operation.get("security") == [{"ApiKey": []}, {"BearerJWT": []}], (method, path)
    for path in ("/health", "/health/live", "/health/ready"):
        assert "security" not in spec["paths"][path]["get"], path
    assert "/" not in spec["paths"] and "/static/{name}" not in spec["paths"]


def _referenced(spec: dict[str, Any], node: Any, seen: set[str]) -> set[str]:
    schemas = spec["components"]["schemas"]
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.split("/")[-1] not in seen:
            seen.add(ref.split("/")[-1])
            _referenced(spec, schemas[ref.split("/")[-1]], seen)
        for value in node.values():
            _referenced(spec, value, seen)
    elif isinstance(node, list):
        for value in node:
            _referenced(spec, value, seen)
    return seen


def _is_model(prop: dict[str, Any]) -> bool:
    items = prop.get("items", {})
    return "$ref" in prop or "$ref" in items or any("$ref" in option for option in prop.get("anyOf", []))


def test_every_response_field_has_a_description_and_an_example(spec: dict[str, Any]) -> None:
    """Fields holding another model carry a description; that model's own fields carry the examples."""
    names: set[str] = set()
    for methods in spec["paths"].values():
        for operation in methods.values():
            _referenced(spec, operation.get("responses", {}), names)
    assert {"QueryResponse", "QueryResult", "Citation", "DocumentOut", "CollectionList", "ErrorBody"} <= names
    missing = []
    for name in sorted(names):
        for field, prop in spec["components"]["schemas"][name].get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{name}.{field}: description")
            if not _is_model(prop) and "examples" not in prop:
                missing.append(f"{name}.{field}: examples")
    assert missing == []


def test_min_score_is_documented_per_mode(spec: dict[str, Any]) -> None:
    text = spec["components"]["schemas"]["QueryRequest"]["properties"]["min_score"]["description"]
    for words in ("dense", "cosine", "lexical", "BM25", "hybrid", "rerank"):
        assert words in text


def _query(client: TestClient, collection: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/query", json={"query": "how do I deploy to AWS", "collection": collection, "top_k": 5, **extra}
    )


def test_min_score_drops_results_below_it(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    everything = _query(client, collection, mode="dense").json()["results"]
    assert len(everything) == 2
    scores = [r["score"] for r in everything]
    assert scores[0] > scores[1]
    threshold = (scores[0] + scores[1]) / 2
    kept = _query(client, collection, mode="dense", min_score=threshold).json()["results"]
    assert [r["id"] for r in kept] == [everything[0]["id"]]
    hybrid = _query(client, collection, min_score=0.0).json()["results"]
    assert len(hybrid) == 2 and all(0.0 <= r["score"] <= 2.0 for r in hybrid)


@pytest.mark.parametrize(
    ("mode", "value"),
    [("dense", 1.5), ("dense", -1.01), ("hybrid", 2.5), ("hybrid", -0.1), ("lexical", -1.0)],
)
def test_min_score_out_of_range_is_400(seeded: tuple[TestClient, str], mode: str, value: float) -> None:
    client, collection = seeded
    response = _query(client, collection, mode=mode, min_score=value)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["details"]["field"] == "min_score" and error["details"]["mode"] == mode
    assert "min_score" in error["message"]


def test_min_score_accepts_any_bm25_value_and_refuses_non_numbers(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    assert _query(client, collection, mode="lexical", min_score=1e6).json()["results"] == []
    assert _query(client, collection, min_score="high").status_code == 422


def test_collection_documents_are_listed(seeded: tuple[TestClient, str]) -> None:
    client, collection = seeded
    response = client.get(f"/api/v1/collections/{collection}/documents")
    assert response.status_code == 200
    documents = response.json()["documents"]
    assert [d["source"] for d in documents] == ["cache.md", "deploy.md"]
    assert all(d["collection"] == collection and d["chunk_count"] >= 1 for d in documents)
    assert len(client.get(f"/api/v1/collections/{collection}/documents?limit=1").json()["documents"]) == 1
    deleted = client.delete(f"/api/v1/documents/{documents[0]['document_id']}")
    assert deleted.status_code == 200
    after = client.get(f"/api/v1/collections/{collection}/documents").json()["documents"]
    assert [d["source"] for d in after] == ["deploy.md"]
    missing = client.get("/api/v1/collections/no-such-collection/documents")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "collection_not_found"
