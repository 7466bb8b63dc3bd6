"""The search page through the query Lambda: its links follow the stage or base path the browser used."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from mangum import Mangum

from knowledgebeast.aws.http_events import FORWARDED_PREFIX, for_asgi, stage_prefix
from tests.functions import events
from tests.functions.conftest import Lambdas


def _get(event: dict[str, Any], path: str, query: str = "") -> dict[str, Any]:
    """``event`` turned into a GET of ``path`` (as the browser's URL path, stage included)."""
    event = copy.deepcopy(event)
    event["body"], event["isBase64Encoded"] = None, False
    if event.get("version") == "2.0":
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = "GET"
        event["rawQueryString"] = query
    else:
        event["httpMethod"] = event["requestContext"]["httpMethod"] = "GET"
        event["requestContext"]["path"] = path
        event["path"] = path.removeprefix("/" + event["requestContext"]["stage"]) or "/"
        if query:
            event["queryStringParameters"] = dict([query.split("=", 1)])
    return event


def _html(response: dict[str, Any]) -> str:
    body = response["body"]
    text: str = base64.b64decode(body).decode() if response.get("isBase64Encoded") else body
    return text


def _base(html: str) -> str:
    match = re.search(r'<base href="([^"]*)">', html)
    assert match is not None
    return match.group(1)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def test_named_stage_page_and_assets(lambdas: Lambdas) -> None:
    named = events.load("http_api_v2_named_stage.json")
    for path in ("/prod/", "/prod"):
        response = lambdas.query.handler(_get(named, path), events.FakeContext())
        assert response["statusCode"] == 200
        assert _headers(response)["content-type"] == "text/html; charset=utf-8"
        html = _html(response)
        assert _base(html) == "/prod/", path
    script = re.search(r'src="static/app\.js\?v=([0-9a-f]+)"', html)
    assert script is not None
    asset = lambdas.query.handler(_get(named, "/prod/static/app.js", f"v={script.group(1)}"), events.FakeContext())
    assert asset["statusCode"] == 200
    assert _headers(asset)["cache-control"] == "public, max-age=31536000, immutable"
    assert "sessionStorage" in _html(asset)


def test_default_stage_and_function_url_serve_at_root(lambdas: Lambdas) -> None:
    for name in ("http_api_v2.json", "function_url.json"):
        response = lambdas.query.handler(_get(events.load(name), "/"), events.FakeContext())
        assert response["statusCode"] == 200, name
        assert _base(_html(response)) == "/", name


def test_rest_api_stage(lambdas: Lambdas) -> None:
    response = lambdas.query.handler(_get(events.load("rest_api_v1.json"), "/prod/"), events.FakeContext())
    assert response["statusCode"] == 200
    assert _base(_html(response)) == "/prod/"


def test_custom_domain_base_path(make_services: Any) -> None:
    """API_GATEWAY_BASE_PATH=/kb: Mangum strips it; the page links keep it."""
    from knowledgebeast.api.app import create_app

    services = make_services(api_gateway_base_path="/kb")
    asgi = Mangum(create_app(services=services), lifespan="off", api_gateway_base_path="/kb")
    event = _get(events.load("http_api_v2.json"), "/kb/")
    event["requestContext"]["domainName"] = "search.example.com"
    response = asgi(for_asgi(event), events.FakeContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 200
    assert _base(_html(response)) == "/kb/"


def test_stage_prefix_rules() -> None:
    named = events.load("http_api_v2_named_stage.json")
    assert stage_prefix(named) == "/prod"
    assert stage_prefix(events.load("http_api_v2.json")) == ""
    assert stage_prefix(events.load("function_url.json")) == ""
    assert stage_prefix(events.load("rest_api_v1.json")) == "/prod"
    custom = copy.deepcopy(named)
    custom["requestContext"]["domainName"] = "search.example.com"
    assert stage_prefix(custom) == ""
    assert stage_prefix({"Records": []}) == ""


def test_for_asgi_sets_the_prefix_header_without_mutating_the_event() -> None:
    rest = events.load("rest_api_v1.json")
    rest["headers"]["X-Forwarded-Prefix"] = "/spoofed"
    original = copy.deepcopy(rest)
    out = for_asgi(rest)
    assert rest == original
    assert out["path"] == "/api/v1/query"
    assert out["headers"][FORWARDED_PREFIX] == "/prod" and "X-Forwarded-Prefix" not in out["headers"]
    assert out["multiValueHeaders"][FORWARDED_PREFIX] == ["/prod"]
    default = events.load("http_api_v2.json")
    assert for_asgi(default) is default
