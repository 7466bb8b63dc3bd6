"""No secret ever reaches a log line, an error body or a response header.

Every log record of every library (root logger at DEBUG) is captured twice: by caplog and through
the product's JSON formatter (what CloudWatch / a container collector would store). Then the app
is driven through the paths where secrets are handled: wrong and right API keys, bad and good
JWTs, rate-limit refusals, a Redis that needs a password (right and wrong), a Chroma client with
a bearer token (reachable and unreachable). Finally every secret string is searched for.
"""

from __future__ import annotations

import io
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledgebeast.observability.logging import JsonFormatter
from tests.security.helpers import ADMIN_KEY, JWT_SECRET, TENANT_A_KEY, bearer, key, mint
from tests.utils.servers import ServerProcess, free_port, redis_binary, wait_for_port

REDIS_PASSWORD = "redis-pass-SECRET-4b1c7d9e2f"
CHROMA_TOKEN = "chroma-token-SECRET-8e2a6c0b4d"
WRONG_KEY = "kb-admin-key-7f3a9c1e5b2d4f61"  # one character off the real admin key
FOREIGN_SECRET = "attacker-secret-SECRET-0123456789abcdef0123456789abcdef0123456789"


class _Captured:
    def __init__(self, caplog: pytest.LogCaptureFixture, stream: io.StringIO) -> None:
        self.caplog = caplog
        self.stream = stream
        self.responses: list[str] = []

    def record(self, response: Any) -> Any:
        self.responses.append(response.text)
        self.responses.append(repr(dict(response.headers)))
        return response

    def everything(self) -> str:
        return "\n".join([self.caplog.text, self.stream.getvalue(), *self.responses])


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Captured]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    monkeypatch.setattr(logging.getLogger("knowledgebeast"), "propagate", True)
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield _Captured(caplog, stream)
    finally:
        root.removeHandler(handler)


@pytest.fixture
def redis_with_password() -> Iterator[ServerProcess]:
    port = free_port()
    args = [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--requirepass",
        REDIS_PASSWORD,
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process=process)
    server = ServerProcess(port, process, args)
    yield server
    server.stop()


def _drive(client: TestClient, collection: str, captured: _Captured) -> None:
    """Requests over every credential path, good and bad."""
    wrong_tokens = [
        mint(FOREIGN_SECRET, scope="admin"),
        mint(exp=1, iat=0),
        mint(aud="other"),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ]
    good_token = mint(scope="query ingest")
    for headers in (
        key(WRONG_KEY),
        key(""),
        {"Authorization": f"Bearer {WRONG_KEY}"},
        *(bearer(t) for t in wrong_tokens),
    ):
        captured.record(client.get("/api/v1/collections", headers=headers))
        captured.record(client.post("/api/v1/query", json={"query": "x", "collection": collection}, headers=headers))
    body = {"text": "The vault combination changes weekly.", "source": "vault.txt", "collection": collection}
    captured.record(client.post("/api/v1/documents", json=body, headers=key(ADMIN_KEY)))
    for headers in (key(ADMIN_KEY), key(TENANT_A_KEY), bearer(good_token)):
        captured.record(
            client.post("/api/v1/query", json={"query": "vault", "collection": collection}, headers=headers)
        )
        captured.record(client.get("/api/v1/collections/missing-one", headers=headers))
    for _ in range(4):  # past the limit of 3: 429s
        captured.record(client.get("/api/v1/collections", headers=key(ADMIN_KEY)))
    captured.record(client.get("/health/ready"))
    captured.record(client.get("/metrics"))


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:6]}... leaked"


ALL_SECRETS = (ADMIN_KEY, TENANT_A_KEY, JWT_SECRET, REDIS_PASSWORD, CHROMA_TOKEN, WRONG_KEY, FOREIGN_SECRET)


def test_no_secret_in_logs_or_responses_with_redis_and_chroma_token(
    captured: _Captured, make_services: Any, redis_with_password: ServerProcess, collection_name: str
) -> None:
    from knowledgebeast.api.app import create_app

    services = make_services(
        app_env="production",
        api_key=f"{ADMIN_KEY},{TENANT_A_KEY}:{collection_name}",
        jwt_secret=JWT_SECRET,
        redis_host="127.0.0.1",
        redis_port=redis_with_password.port,
        redis_password=REDIS_PASSWORD,
        chroma_auth_token=CHROMA_TOKEN,
        rate_limit_per_minute=3,
    )
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    _drive(client, collection_name, captured)
    # Redis did work (so the password was really used), then a second app with the wrong password
    assert services.cache is not None and services.cache.ping()
    assert any(k.startswith(b"kb:rl:") for k in services.cache.client.scan_iter())
    wrong = make_services(
        app_env="production",
        api_key=ADMIN_KEY,
        redis_host="127.0.0.1",
        redis_port=redis_with_password.port,
        redis_password=REDIS_PASSWORD[::-1],
        chroma_auth_token=CHROMA_TOKEN,
    )
    wrong_client = TestClient(create_app(services=wrong), raise_server_exceptions=False)
    captured.record(
        wrong_client.post(
            "/api/v1/query", json={"query": "vault", "collection": collection_name}, headers=key(ADMIN_KEY)
        )
    )
    assert "redis unavailable" in captured.caplog.text  # the failure was logged... without the password
    text = captured.everything()
    assert "unauthorized" in text and "rate_limited" in text  # the bad paths really ran
    _assert_clean(text, *ALL_SECRETS, REDIS_PASSWORD[::-1])
    for token in (mint(FOREIGN_SECRET, scope="admin"), mint(scope="query ingest")):
        _assert_clean(text, token.split(".")[2])  # no signature of any token


def test_no_secret_when_chroma_is_unreachable(captured: _Captured, make_services: Any, tmp_path: Path) -> None:
    from knowledgebeast.api.app import create_app

    services = make_services(
        app_env="production",
        api_key=ADMIN_KEY,
        jwt_secret=JWT_SECRET,
        chroma_port=free_port(),
        chroma_auth_token=CHROMA_TOKEN,
    )
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    down = captured.record(client.post("/api/v1/query", json={"query": "x"}, headers=key(ADMIN_KEY)))
    assert down.status_code == 503
    captured.record(client.get("/health/ready"))
    captured.record(client.post("/api/v1/documents", json={"text": "t", "source": "s.txt"}, headers=key(ADMIN_KEY)))
    _assert_clean(captured.everything(), *ALL_SECRETS)


def test_json_formatter_redacts_secret_named_fields() -> None:
    """Last line of defence: a field named like a secret is redacted whatever its value."""
    record = logging.makeLogRecord(
        {
            "msg": "connecting",
            "levelname": "INFO",
            "name": "x",
            "redis_password": REDIS_PASSWORD,
            "api_key": ADMIN_KEY,
            "authorization": "Bearer abc",
            "jwt_secret": JWT_SECRET,
            "host": "db",
        }
    )
    line = JsonFormatter().format(record)
    _assert_clean(line, REDIS_PASSWORD, ADMIN_KEY, JWT_SECRET, "Bearer abc")
    assert '"host": "db"' in line


def test_settings_never_render_secrets(make_settings: Any) -> None:
    settings = make_settings(
        api_key=ADMIN_KEY, jwt_secret=JWT_SECRET, redis_password=REDIS_PASSWORD, chroma_auth_token=CHROMA_TOKEN
    )
    _assert_clean(repr(settings) + str(settings) + settings.model_dump_json(), *ALL_SECRETS)
