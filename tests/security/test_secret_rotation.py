"""Rotating a secret in Secrets Manager (moto) takes effect once the cached copy expires, no redeploy.

Each test reads a secret by ARN through the real code path (Powertools ``get_secret`` with
``max_age``), rotates it with ``put_secret_value`` (the new version becomes AWSCURRENT), shows the
cached value is still served, then moves Powertools' cache clock past ``SECRETS_MAX_AGE_SECONDS``
and shows the new value in use and the old one refused, through the real app, a real Redis
server and a real Chroma server behind a recording proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.helpers import AUDIENCE, ISSUER, assert_error, bearer, key, mint
from tests.utils.local_http import recording_proxy, serve
from tests.utils.servers import start_redis

MAX_AGE = 300
OLD_KEY, NEW_KEY = "kb-rotation-old-key-0a1b2c3d4e5f", "kb-rotation-new-key-6a7b8c9d0e1f"
OLD_JWT = "old-jwt-secret-0123456789abcdef0123456789abcdef0123456789abcdef"
NEW_JWT = "new-jwt-secret-fedcba9876543210fedcba9876543210fedcba9876543210"


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    """moto's Secrets Manager, with Powertools' providers and our last-good copies reset."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import base
    from moto import mock_aws

    from knowledgebeast import secrets

    base.DEFAULT_PROVIDERS.clear()
    secrets._last_good.clear()
    with mock_aws():
        yield boto3.client("secretsmanager")
    base.DEFAULT_PROVIDERS.clear()
    secrets._last_good.clear()


@pytest.fixture
def advance_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Moves the clock Powertools' parameter cache reads expiry from (nothing else is affected)."""
    from aws_lambda_powertools.utilities.parameters import base

    offset = timedelta()

    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> ShiftedDatetime:  # type: ignore[override]
            return super().now(tz) + offset  # type: ignore[return-value]

    monkeypatch.setattr(base, "datetime", ShiftedDatetime)

    def advance(seconds: float) -> None:
        nonlocal offset
        offset += timedelta(seconds=seconds)

    return advance


def _app(make_services: Any, **settings: Any) -> TestClient:
    from knowledgebeast.api.app import create_app

    services = make_services(app_env="production", secrets_max_age_seconds=MAX_AGE, **settings)
    return TestClient(create_app(services=services), raise_server_exceptions=False)


def test_rotated_api_key_is_accepted_and_the_old_one_refused_after_max_age(
    secretsmanager: Any, advance_clock: Callable[[float], None], make_services: Any
) -> None:
    arn = secretsmanager.create_secret(Name="kb/api-keys", SecretString=OLD_KEY)["ARN"]
    client = _app(make_services, api_keys_secret_arn=arn)
    assert client.get("/api/v1/collections", headers=key(OLD_KEY)).status_code == 200

    secretsmanager.put_secret_value(SecretId=arn, SecretString=NEW_KEY)
    advance_clock(MAX_AGE - 60)  # still within max_age: the cached key set answers
    assert client.get("/api/v1/collections", headers=key(OLD_KEY)).status_code == 200
    assert_error(client.get("/api/v1/collections", headers=key(NEW_KEY)), 401, "unauthorized")

    advance_clock(61)
    assert client.get("/api/v1/collections", headers=key(NEW_KEY)).status_code == 200
    assert_error(client.get("/api/v1/collections", headers=key(OLD_KEY)), 401, "unauthorized")


def test_rotated_jwt_secret_signs_valid_tokens_after_max_age(
    secretsmanager: Any, advance_clock: Callable[[float], None], make_services: Any
) -> None:
    arn = secretsmanager.create_secret(Name="kb/jwt", SecretString=OLD_JWT)["ARN"]
    client = _app(make_services, jwt_secret_arn=arn, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    old_token, new_token = bearer(mint(OLD_JWT, scope="admin")), bearer(mint(NEW_JWT, scope="admin"))
    assert client.get("/api/v1/collections", headers=old_token).status_code == 200

    secretsmanager.put_secret_value(SecretId=arn, SecretString=NEW_JWT)
    assert client.get("/api/v1/collections", headers=old_token).status_code == 200
    advance_clock(MAX_AGE + 1)
    assert client.get("/api/v1/collections", headers=new_token).status_code == 200
    assert_error(client.get("/api/v1/collections", headers=old_token), 401, "unauthorized")


def test_a_failed_refresh_keeps_the_last_secret(secretsmanager: Any, advance_clock: Callable[[float], None]) -> None:
    from knowledgebeast.errors import ConfigurationError
    from knowledgebeast.secrets import SecretSource

    arn = secretsmanager.create_secret(Name="kb/flaky", SecretString="first")["ARN"]
    source = SecretSource(arn=arn, max_age=MAX_AGE)
    assert source.get() == "first"
    secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    advance_clock(MAX_AGE + 1)
    assert source.get() == "first"
    with pytest.raises(ConfigurationError, match="cannot read secret"):
        SecretSource(arn=arn + "-never-read").get()


def test_rotated_redis_password_is_used_by_new_connections(
    secretsmanager: Any, advance_clock: Callable[[float], None]
) -> None:
    from knowledgebeast.redis_client import connect_redis
    from knowledgebeast.secrets import SecretSource

    server = start_redis()
    try:
        admin = connect_redis("127.0.0.1", server.port)
        admin.config_set("requirepass", "old-redis-password")
        arn = secretsmanager.create_secret(Name="kb/redis", SecretString="old-redis-password")["ARN"]
        client = connect_redis("127.0.0.1", server.port, password=SecretSource(arn=arn, max_age=MAX_AGE), timeout=2)
        assert client.set("kb:rotation", b"1")

        client.config_set("requirepass", "new-redis-password")  # what the rotation Lambda does
        secretsmanager.put_secret_value(SecretId=arn, SecretString="new-redis-password")
        advance_clock(MAX_AGE + 1)
        client.connection_pool.disconnect()  # the next command opens a new connection
        assert client.get("kb:rotation") == b"1"
    finally:
        server.stop()


def test_rotated_chroma_token_reaches_the_proxy_after_max_age(
    secretsmanager: Any, advance_clock: Callable[[float], None], chroma_server: Any, collection_name: str
) -> None:
    from knowledgebeast.secrets import SecretSource
    from knowledgebeast.store.chroma import ChromaStore

    arn = secretsmanager.create_secret(Name="kb/chroma", SecretString="old-chroma-token")["ARN"]
    seen: list[str | None] = []
    with serve(recording_proxy(chroma_server.port, seen)) as url:
        port = int(url.rsplit(":", 1)[1])
        store = ChromaStore.http("127.0.0.1", port, auth_token=SecretSource(arn=arn, max_age=MAX_AGE))
        store.ensure_collection(collection_name)
        assert seen and set(seen) == {"Bearer old-chroma-token"}

        secretsmanager.put_secret_value(SecretId=arn, SecretString="new-chroma-token")
        advance_clock(MAX_AGE + 1)
        seen.clear()
        assert store.collection_info(collection_name).count == 0
        store.delete_collection(collection_name)
        assert seen and set(seen) == {"Bearer new-chroma-token"}
