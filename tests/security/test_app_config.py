"""Fail-closed startup and the exposure settings: DOCS_PUBLIC, METRICS_PUBLIC, CORS, ALLOWED_HOSTS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.helpers import ADMIN_KEY, TENANT_A_KEY, assert_error, bearer, key, mint


@pytest.mark.parametrize("env", ["production", "staging"])
def test_production_without_credentials_refuses_to_start(make_services: Any, env: str) -> None:
    from knowledgebeast.api.app import create_app
    from knowledgebeast.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=f"APP_ENV={env} requires authentication") as info:
        create_app(services=make_services(app_env=env))
    assert "API_KEY" in info.value.message and "JWT_SECRET" in info.value.message
    # configured but unusable: only separators, or only whitespace in the secret
    with pytest.raises(ConfigurationError, match="no usable key"):
        create_app(services=make_services(app_env=env, api_key=" , ,"))


def test_development_mode_is_open_and_says_so(make_services: Any, caplog: pytest.LogCaptureFixture) -> None:
    from knowledgebeast.api.app import create_app

    for env in ("development", "test"):
        with caplog.at_level("WARNING", logger="knowledgebeast"):
            client = TestClient(create_app(services=make_services(app_env=env)), raise_server_exceptions=False)
        assert "authentication is DISABLED" in caplog.text
        health = client.get("/health").json()
        assert health["auth"] == "disabled (development mode)" and health["environment"] == env
        assert client.get("/api/v1/collections").status_code == 200  # no credential needed
        caplog.clear()


def test_docs_public_switch(secure_client: Callable[..., TestClient]) -> None:
    public = secure_client()
    assert public.get("/docs").status_code == 200
    assert public.get("/openapi.json").json()["info"]["title"] == "KnowledgeBeast"
    private = secure_client(docs_public=False)
    assert_error(private.get("/docs"), 404, "not_found")
    assert_error(private.get("/openapi.json"), 404, "not_found")
    assert_error(private.get("/redoc"), 404, "not_found")


@pytest.mark.parametrize("env", ["production", "staging"])
def test_metrics_need_the_admin_scope_by_default_when_deployed(
    secure_client: Callable[..., TestClient], env: str
) -> None:
    """Secure by default: behind the public API Gateway, /metrics is not for everyone."""
    client = secure_client(app_env=env)
    assert_error(client.get("/metrics"), 401, "unauthorized")
    assert_error(client.get("/metrics", headers=key(TENANT_A_KEY)), 403, "forbidden")
    scraped = client.get("/metrics", headers=key(ADMIN_KEY))
    assert scraped.status_code == 200 and "http_requests_total" in scraped.text


def test_metrics_default_from_the_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledgebeast.config import Settings

    monkeypatch.delenv("METRICS_PUBLIC", raising=False)
    for env, expected in [("development", True), ("test", True), ("staging", False), ("production", False)]:
        monkeypatch.setenv("APP_ENV", env)
        assert Settings().metrics_open is expected
    monkeypatch.setenv("METRICS_PUBLIC", "true")
    assert Settings().metrics_open is True  # production, explicitly opened
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("METRICS_PUBLIC", "false")
    assert Settings().metrics_open is False


def test_metrics_public_switch(secure_client: Callable[..., TestClient]) -> None:
    public = secure_client(metrics_public=True)  # production, explicitly opened
    response = public.get("/metrics")
    assert response.status_code == 200 and "http_requests_total" in response.text

    private = secure_client(metrics_public=False, rate_limit_per_minute=1)
    assert_error(private.get("/metrics"), 401, "unauthorized")
    assert_error(private.get("/metrics", headers=bearer(mint(scope="query"))), 403, "forbidden")
    assert_error(private.get("/metrics", headers=key(TENANT_A_KEY)), 403, "forbidden")  # tenant, not operator
    for _ in range(3):  # never rate limited, even with a limit of 1/min
        scraped = private.get("/metrics", headers=key(ADMIN_KEY))
        assert scraped.status_code == 200 and "http_requests_total" in scraped.text
        assert "x-ratelimit-limit" not in scraped.headers
    assert private.get("/metrics", headers=bearer(mint(scope="admin"))).status_code == 200


def test_cors_origins_are_honoured(secure_client: Callable[..., TestClient]) -> None:
    client = secure_client(cors_origins=["https://app.example.com"])
    preflight = client.options(
        "/api/v1/query",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()

    refused = client.options(
        "/api/v1/query",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers
    assert_error(refused, 400, "bad_request")

    simple = client.get("/api/v1/collections", headers={"Origin": "https://app.example.com", **key(ADMIN_KEY)})
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    exposed = simple.headers["access-control-expose-headers"].lower()
    assert "x-ratelimit-remaining" in exposed and "retry-after" in exposed and "x-request-id" in exposed
    other = client.get("/api/v1/collections", headers={"Origin": "https://evil.example.com", **key(ADMIN_KEY)})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers

    no_cors = secure_client()
    plain = no_cors.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in plain.headers


def test_allowed_hosts_are_honoured_with_the_error_shape(make_services: Any) -> None:
    from knowledgebeast.api.app import create_app

    app = create_app(services=make_services(allowed_hosts=["api.example.com", "*.internal.example.com"]))
    good = TestClient(app, base_url="https://api.example.com", raise_server_exceptions=False)
    assert good.get("/health").status_code == 200
    wildcard = TestClient(app, base_url="https://eu.internal.example.com", raise_server_exceptions=False)
    assert wildcard.get("/health").status_code == 200
    bad = TestClient(app, base_url="https://evil.example.com", raise_server_exceptions=False)
    for response in (bad.get("/health"), bad.post("/api/v1/query", json={"query": "x"})):
        error = assert_error(response, 400, "bad_request")
        assert error["message"] == "Invalid host header"
    spoofed = good.get("/health", headers={"Host": "evil.example.com"})
    assert_error(spoofed, 400, "bad_request")


def test_allowed_hosts_setting_parses_csv() -> None:
    from knowledgebeast.config import Settings

    settings = Settings(allowed_hosts="api.example.com, *.internal.example.com", cors_origins="https://a.example")
    assert settings.allowed_hosts == ["api.example.com", "*.internal.example.com"]
    assert settings.cors_origins == ["https://a.example"]
