"""The query function behind every HTTP front door: HTTP API 2.0, REST 1.0, stages, Function URL."""

from __future__ import annotations

import pytest

from tests.functions import events
from tests.functions.conftest import Lambdas

DOC = "# Tides\n\nThe moon's gravity raises two tidal bulges, so most coasts see two high tides a day."


@pytest.fixture(scope="module")
def collection(lambdas: Lambdas) -> str:
    name = "query-handler-tests"
    key = f"{name}/oceans/tides.md"
    lambdas.put(key, DOC)
    assert lambdas.ingest_bodies(events.created(key, "0055AED6DC00000001")) == {"batchItemFailures": []}
    return name


def expect_tides(lambdas: Lambdas, event: dict[str, object]) -> None:
    status, body = lambdas.http(event)
    assert status == 200, body
    assert body["results"][0]["citation"]["source"] == f"s3://{events.BUCKET}/query-handler-tests/oceans/tides.md"


QUESTION = {"query": "why are there two high tides per day?", "collection": "query-handler-tests", "top_k": 3}


def test_http_api_v2_default_stage(lambdas: Lambdas, collection: str) -> None:
    expect_tides(lambdas, events.http_event("http_api_v2.json", QUESTION))


def test_http_api_v2_named_stage_with_base64_body(lambdas: Lambdas, collection: str) -> None:
    event = events.http_event("http_api_v2_named_stage.json", QUESTION, base64_body=True)
    assert event["rawPath"] == "/prod/api/v1/query" and event["isBase64Encoded"] is True
    expect_tides(lambdas, event)


def test_rest_api_v1_with_stage(lambdas: Lambdas, collection: str) -> None:
    event = events.http_event("rest_api_v1.json", QUESTION)
    assert event["requestContext"]["path"] == "/prod/api/v1/query"
    expect_tides(lambdas, event)


def test_rest_api_v1_base64_body(lambdas: Lambdas, collection: str) -> None:
    expect_tides(lambdas, events.http_event("rest_api_v1.json", QUESTION, base64_body=True))


def test_rest_api_stage_named_like_a_route_prefix(lambdas: Lambdas, collection: str) -> None:
    """REST never puts the stage in ``path``: a stage called ``api`` must not be stripped."""
    event = events.http_event("rest_api_v1.json", QUESTION)
    event["requestContext"]["stage"] = "api"
    event["requestContext"]["path"] = "/api/api/v1/query"
    expect_tides(lambdas, event)


def test_function_url(lambdas: Lambdas, collection: str) -> None:
    expect_tides(lambdas, events.http_event("function_url.json", QUESTION))


def test_health_through_a_named_stage(lambdas: Lambdas) -> None:
    event = events.load("http_api_v2_named_stage.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/health/ready"
    event["requestContext"]["http"]["method"] = "GET"
    event["body"], event["isBase64Encoded"] = None, False
    status, body = lambdas.http(event)
    assert status == 200, body
    assert body["checks"]["store"]["status"] == "ok"


def test_errors_keep_the_api_error_shape(lambdas: Lambdas) -> None:
    status, body = lambdas.http(events.http_event("http_api_v2.json", {"query": "", "collection": "x"}))
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["request_id"]


def test_unknown_path_is_404(lambdas: Lambdas) -> None:
    event = events.http_event("http_api_v2.json", QUESTION)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/api/v1/query"  # $default: no stage
    status, _ = lambdas.http(event)
    assert status == 404


def test_the_same_app_serves_every_invocation(lambdas: Lambdas, collection: str) -> None:
    """Built once per container: the second request reuses the app, the model and the clients."""
    app, services = lambdas.query.app, lambdas.query.app.state.services
    expect_tides(lambdas, events.http_event("http_api_v2.json", QUESTION))
    assert lambdas.query.app is app and lambdas.query.app.state.services is services
    assert "embedder" in services.__dict__ and "store" in services.__dict__  # warmed at import
