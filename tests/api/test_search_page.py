"""The search page's HTTP contract: no key needed, never rate limited, strict CSP, caching by ETag."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import REPO

WEB = REPO / "layers" / "knowledgebeast" / "python" / "knowledgebeast" / "web"


def _client(make_services: Any, **overrides: Any) -> TestClient:
    from knowledgebeast.api.app import create_app

    return TestClient(create_app(services=make_services(**overrides)), raise_server_exceptions=False)


def _asset_links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(static/[^"]+)"', html)


def test_page_needs_no_key_and_the_api_still_does(make_services: Any) -> None:
    client = _client(make_services, api_key="page-test-key")
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>KnowledgeBeast search</title>" in page.text
    for link in _asset_links(page.text):
        assert client.get("/" + link).status_code == 200, link
    assert client.get("/api/v1/collections").status_code == 401
    assert client.get("/api/v1/collections", headers={"X-API-Key": "page-test-key"}).status_code == 200


def test_page_is_not_rate_limited(make_services: Any) -> None:
    client = _client(make_services, api_key="k", rate_limit_per_minute=2)
    for _ in range(5):
        response = client.get("/")
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers
    # the limiter is on for the API: 5 calls cannot all fit in 2 per window, even across a window edge
    statuses = [client.get("/api/v1/collections", headers={"X-API-Key": "k"}).status_code for _ in range(5)]
    assert 429 in statuses and statuses[0] == 200


def test_allowed_hosts_apply_to_the_page_too(make_services: Any) -> None:
    client = _client(make_services, allowed_hosts=["kb.example.com"])
    assert client.get("/", headers={"host": "kb.example.com"}).status_code == 200
    refused = client.get("/", headers={"host": "evil.example.com"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "bad_request"


def test_strict_content_security_policy(make_services: Any) -> None:
    client = _client(make_services)
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # nothing inline the policy would have to allow, and nothing from another origin
    assert "<script>" not in page.text and "<style" not in page.text and "style=" not in page.text
    assert not re.search(r"\son[a-z]+\s*=", page.text)  # no inline event handlers
    assert "http://" not in page.text and "https://" not in page.text


def test_no_file_references_another_origin_or_inline_html() -> None:
    js = (WEB / "app.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    for name in ("app.js", "app.css", "index.html"):
        assert not re.search(r"(?:src|href|url)\s*[=(]\s*[\"']?(?:https?:)?//", (WEB / name).read_text()), name


def test_page_is_revalidated_by_etag(make_services: Any) -> None:
    client = _client(make_services)
    first = client.get("/")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_assets_are_immutable_under_their_hash(make_services: Any) -> None:
    client = _client(make_services)
    links = _asset_links(client.get("/").text)
    assert {link.split("?")[0] for link in links} == {"static/app.js", "static/app.css", "static/icon.svg"}
    for link in links:
        response = client.get("/" + link)
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["etag"] == f'"{link.split("v=")[1]}"'
        assert client.get("/" + link, headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    unversioned = client.get("/static/app.js")
    assert unversioned.headers["cache-control"] == "no-cache"
    assert unversioned.headers["content-type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize("name", ["nope.js", "..%2Fconfig.py", "__init__.py", "index.html"])
def test_only_listed_assets_are_served(make_services: Any, name: str) -> None:
    response = _client(make_services).get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _base(client: TestClient, **headers: str) -> str:
    match = re.search(r'<base href="([^"]*)">', client.get("/", headers=headers).text)
    assert match is not None
    return match.group(1)


def test_base_href_follows_the_public_prefix(make_services: Any) -> None:
    client = _client(make_services)
    assert _base(client) == "/"
    assert _base(client, **{"X-Forwarded-Prefix": "/prod"}) == "/prod/"
    assert _base(client, **{"X-Forwarded-Prefix": "/kb/search/"}) == "/kb/search/"
    for hostile in ("//evil.example.com", "/..", "/%2e%2e", '/a"><script>', "javascript:alert(1)", "/a b"):
        assert _base(client, **{"X-Forwarded-Prefix": hostile}) == "/", hostile


def test_root_path_is_honoured(make_services: Any) -> None:
    from knowledgebeast.api.app import create_app

    client = TestClient(create_app(services=make_services()), root_path="/proxy")
    assert _base(client) == "/proxy/"


def test_package_data_ships_every_page_file() -> None:
    """pyproject's package-data globs match every file of web/ (a wheel would miss any other)."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = globs["knowledgebeast"]
    files = [p for p in WEB.iterdir() if p.is_file() and p.suffix != ".py"]
    assert {p.name for p in files} >= {"index.html", "app.js", "app.css", "icon.svg"}
    for path in files:
        relative = str(Path("web") / path.name)
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
