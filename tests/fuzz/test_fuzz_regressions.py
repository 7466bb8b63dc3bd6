"""Every input the fuzzing found (or led to) that used to get a 500 or a schema-contradicting answer.

Each case is pinned here as a plain request so it stays fixed even if a future fuzz run does not
happen to generate it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}


@pytest.fixture
def client(make_services: Any, tmp_path: Path) -> TestClient:
    from knowledgebeast.api.app import create_app

    services = make_services(chroma_host=None, data_dir=tmp_path / "data", rate_limit_per_minute=0)
    services.ingest_service.ingest_bytes(b"hello world", collection="default", source="h.txt", metadata={"x": 1})
    return TestClient(create_app(services=services), raise_server_exceptions=False)


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "hello", "filters": {"n": NaN}}',
        b'{"query": "hello", "filters": {"n": {"$lt": Infinity}}}',
        b'{"query": "hello", "filters": {"n": {"$gt": -Infinity}}}',
        b'{"query": "hello", "filters": {"n": {"$lt": 1e400}}}',
        b'{"query": "hello", "filters": {"a": "\\ud800"}}',
        b'{"query": "hello", "filters": {"\\udc00": 1}}',
    ],
)
def test_non_json_numbers_and_lone_surrogates_in_a_query_are_400(client: TestClient, body: bytes) -> None:
    """Python's parser takes them, Chroma chokes on them (was: 500 Invalid where clause)."""
    assert _code(client.post("/api/v1/query", content=body, headers=JSON)) == (400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "hello", "source": "a.txt", "metadata": {"n": NaN}}',
        b'{"text": "hello", "source": "a.txt", "metadata": {"n": 1e999}}',
        b'{"text": "hello", "source": "a.txt", "metadata": {"\\ud800": "x"}}',
    ],
)
def test_non_json_numbers_and_lone_surrogates_in_a_document_are_400(client: TestClient, body: bytes) -> None:
    """(was: NaN silently dropped by Chroma; a surrogate key a 500 UnicodeEncodeError)"""
    assert _code(client.post("/api/v1/documents", content=body, headers=JSON)) == (400, "malformed_json")


def test_upload_metadata_field_is_parsed_strictly(client: TestClient) -> None:
    response = client.post(
        "/api/v1/documents/upload", data={"metadata": '{"n": NaN}'}, files={"file": ("a.txt", b"hi", "text/plain")}
    )
    assert _code(response) == (422, "validation_error")


def test_chroma_reserved_keys_are_refused_up_front(client: TestClient) -> None:
    """'#'-prefixed keys are Chroma's own (was: 500 on ingest and on filter)."""
    for key in ("#document", "#id", "#metadata"):
        body = {"text": "hi", "source": "k.txt", "metadata": {key: "x"}}
        assert _code(client.post("/api/v1/documents", json=body)) == (422, "validation_error")
        assert _code(client.post("/api/v1/query", json={"query": "hi", "filters": {key: "x"}})) == (
            400,
            "invalid_filter",
        )


def test_wide_filters_are_400_not_500(client: TestClient) -> None:
    """Chroma fails internally somewhere below 1000 OR-ed conditions (was: 500 Expression tree is too large)."""
    wide = {"$or": [{"x": i} for i in range(1000)]}
    assert _code(client.post("/api/v1/query", json={"query": "hi", "filters": wide})) == (400, "invalid_filter")
    ok = {"$or": [{"x": i} for i in range(100)]}
    assert client.post("/api/v1/query", json={"query": "hi", "filters": ok}).status_code == 200


def test_mixed_type_lists_are_400(client: TestClient) -> None:
    for values in (["a", 1], [1, 1.5], [True, 1]):
        response = client.post("/api/v1/query", json={"query": "hi", "filters": {"x": {"$in": values}}})
        assert _code(response) == (400, "invalid_filter")


def test_collection_names_the_schema_allows_are_the_ones_ingest_accepts(client: TestClient) -> None:
    """The published pattern used to allow 'a..b', which ingest then refused with a 422."""
    from knowledgebeast.identity import check_collection_name
    from knowledgebeast.schemas import COLLECTION_PATTERN

    assert _code(client.post("/api/v1/documents", json={"text": "x", "source": "x", "collection": "a..b"})) == (
        422,
        "validation_error",
    )
    assert _code(client.post("/api/v1/query", json={"query": "x", "collection": "a..b"})) == (422, "validation_error")
    for name in ("a.b", "a-b.c_d", "abc", "a.b.c", "A9z"):
        assert check_collection_name(name) == name
        assert (
            client.post("/api/v1/documents", json={"text": "x", "source": "x", "collection": name}).status_code == 201
        )
    schema = client.get("/openapi.json").json()["components"]["schemas"]["TextDocument"]["properties"]["collection"]
    assert schema["pattern"] == COLLECTION_PATTERN


def test_published_filter_schema_matches_the_validator() -> None:
    """Filters the schema accepts are accepted by validate_filter, and the refused ones are refused."""
    from knowledgebeast.errors import InvalidFilterError
    from knowledgebeast.schemas import filter_json_schema
    from knowledgebeast.store.filters import validate_filter

    validator = jsonschema.Draft202012Validator(filter_json_schema())
    accepted: list[dict[str, Any] | None] = [
        None,
        {},
        {"team": "a"},
        {"team": "a", "year": {"$gte": 2020}},
        {"$or": [{"team": {"$in": ["a", "b"]}}, {"page": {"$lt": 3}}]},
        {"$and": [{"$or": [{"a": 1}, {"b": 2}]}, {"c": {"$nin": [1.5, 2.5]}}]},
    ]
    refused: list[dict[str, Any]] = [
        {"team": {"$regex": "a"}},
        {"$nor": [{"a": 1}, {"b": 2}]},
        {"year": {"$gt": "2020"}},
        {"team": {"$in": []}},
        {"team": {"$in": ["a", 1]}},
        {"team": ["a"]},
        {"$and": [{"a": 1}]},
        {"team": {"$eq": "a", "$ne": "b"}},
        {"#document": "x"},
        {"$and": [{"a": 1}, {}]},
    ]
    for where in accepted:
        assert validator.is_valid(where), where
        validate_filter(where)
    for where in refused:
        assert not validator.is_valid(where), where
        with pytest.raises(InvalidFilterError):
            validate_filter(where)
    deep: dict[str, Any] = {"a": 1}
    for _ in range(5):
        deep = {"$and": [deep, {"b": 2}]}
    assert not validator.is_valid(deep)
    with pytest.raises(InvalidFilterError):
        validate_filter(deep)


def test_published_metadata_schema_matches_ingest() -> None:
    from knowledgebeast.api.routes.documents import METADATA_SCHEMA
    from knowledgebeast.errors import ValidationError
    from knowledgebeast.ingest import clean_user_metadata

    validator = jsonschema.Draft202012Validator({"type": "object", **METADATA_SCHEMA})
    for metadata in ({"team": "a"}, {"k": 1, "kb": 2, "kbx": 3, "kilo": True}):
        assert validator.is_valid(metadata)
        clean_user_metadata(metadata)
    for metadata in ({"": 1}, {"$x": 1}, {"#x": 1}, {"kb_x": 1}, {"source": "x"}, {f"k{i}": i for i in range(33)}):
        assert not validator.is_valid(metadata), metadata
        with pytest.raises(ValidationError):
            clean_user_metadata(metadata)
