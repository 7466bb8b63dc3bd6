"""Bearer tokens from an OIDC issuer (Cognito-shaped) verified against a JWKS served over real HTTP.

An RSA key pair is generated per test module; its public half is published as a JWKS by an
``http.server`` on loopback, and tokens are signed with the private half, exactly as a Cognito
user pool does. Everything goes through the real app in APP_ENV=production, next to API keys and
the HS256 secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.security.helpers import ADMIN_KEY, JWT_SECRET, assert_error, bearer, key, mint
from tests.utils.local_http import serve, static_json
from tests.utils.servers import free_port

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
CLIENT_ID = "kb-app-client-1234"
PREFIX = "knowledgebeast/"
COLLECTIONS = "/api/v1/collections"


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(private: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class Issuer:
    """A key set (kid -> private key) published as JWKS; ``hits`` counts the fetches."""

    def __init__(self) -> None:
        self.keys = {"kid-1": _private_key()}
        self.hits: list[str] = []

    def jwks(self) -> bytes:
        return json.dumps({"keys": [_jwk(k, kid) for kid, k in self.keys.items()]}).encode()

    def token(self, kid: str = "kid-1", *, signer: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": "cognito-user-1",
            "iss": ISSUER,
            "iat": now,
            "exp": now + 300,
            "token_use": "access",
            "client_id": CLIENT_ID,
            "scope": f"{PREFIX}query",
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, signer or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    published = Issuer()
    with serve(static_json(published.jwks, published.hits)) as url:
        yield published, f"{url}/eu-west-1_TestPool/.well-known/jwks.json"


@pytest.fixture
def oidc_client(make_services: Any) -> Callable[..., TestClient]:
    from knowledgebeast.api.app import create_app

    def factory(jwks_url: str, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "app_env": "production",
            "api_key": ADMIN_KEY,
            "jwt_secret": JWT_SECRET,
            "oidc_jwks_url": jwks_url,
            "oidc_issuer": ISSUER,
            "oidc_audience": CLIENT_ID,
            "oidc_scope_prefix": PREFIX,
            **overrides,
        }
        return TestClient(create_app(services=make_services(**values)), raise_server_exceptions=False)

    return factory


def test_issuer_tokens_are_accepted_next_to_api_keys_and_hs256(
    issuer: tuple[Issuer, str], oidc_client: Callable[..., TestClient]
) -> None:
    published, url = issuer
    client = oidc_client(url)
    assert client.get(COLLECTIONS, headers=bearer(published.token())).status_code == 200
    # an ID token carries the client id as `aud` instead of `client_id`
    id_token = published.token(client_id=None, aud=CLIENT_ID, token_use="id")
    assert client.get(COLLECTIONS, headers=bearer(id_token)).status_code == 200
    assert client.get(COLLECTIONS, headers=key(ADMIN_KEY)).status_code == 200
    assert client.get(COLLECTIONS, headers=bearer(mint(iss=None, aud=None))).status_code == 200
    assert published.hits == ["/eu-west-1_TestPool/.well-known/jwks.json"]  # fetched once, then cached


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}, "another pool"),
        ({"client_id": "someone-elses-client"}, "another app client"),
        ({"client_id": None, "aud": "someone-elses-client"}, "another audience"),
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"sub": None}, "no subject"),
    ],
)
def test_tokens_for_someone_else_are_refused(
    issuer: tuple[Issuer, str], oidc_client: Callable[..., TestClient], claims: dict[str, Any], why: str
) -> None:
    published, url = issuer
    error = assert_error(
        oidc_client(url).get(COLLECTIONS, headers=bearer(published.token(**claims))), 401, "unauthorized"
    )
    assert error["message"].startswith("invalid token"), why


def test_forged_and_confused_tokens_are_refused(
    issuer: tuple[Issuer, str], oidc_client: Callable[..., TestClient]
) -> None:
    published, url = issuer
    client = oidc_client(url)
    forged = published.token(signer=_private_key())  # right kid, wrong key
    assert_error(client.get(COLLECTIONS, headers=bearer(forged)), 401, "unauthorized")
    # algorithm confusion: HS256 signed with the issuer's *public* key as the HMAC secret
    public_pem = (
        published.keys["kid-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = {"sub": "x", "iss": ISSUER, "iat": int(time.time()), "exp": int(time.time()) + 60}
    confused = jwt.encode(claims, "an-hmac-key-long-enough-for-hs256-0123456789")
    header, payload, _ = confused.split(".")
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert_error(client.get(COLLECTIONS, headers=bearer(confused)), 401, "unauthorized")


def test_prefixed_scopes_map_and_foreign_scopes_grant_nothing(
    issuer: tuple[Issuer, str], oidc_client: Callable[..., TestClient]
) -> None:
    published, url = issuer
    client = oidc_client(url)
    other_api_admin = published.token(scope="other-api/admin")
    assert_error(client.get(COLLECTIONS, headers=bearer(other_api_admin)), 403, "forbidden")
    assert (
        client.post("/api/v1/cache/clear", headers=bearer(published.token(scope=f"{PREFIX}admin"))).status_code == 200
    )


def test_a_rotated_issuer_key_is_fetched_once_the_refetch_cooldown_passed(
    issuer: tuple[Issuer, str], oidc_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown key ids trigger a JWKS refetch at most every 30 s (PyJWKClient's cooldown), so tokens
    with made-up kids cannot make us hammer the issuer; a genuinely new key is picked up after it."""
    import types

    from jwt import jwks_client

    offset = 0.0
    monkeypatch.setattr(jwks_client, "time", types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset))
    published, url = issuer
    client = oidc_client(url)
    assert client.get(COLLECTIONS, headers=bearer(published.token())).status_code == 200
    published.keys["kid-2"] = _private_key()
    assert_error(client.get(COLLECTIONS, headers=bearer(published.token("kid-2"))), 401, "unauthorized")
    assert len(published.hits) == 1
    offset = 31.0
    assert client.get(COLLECTIONS, headers=bearer(published.token("kid-2"))).status_code == 200
    assert len(published.hits) == 2


def test_unreachable_jwks_answers_503_and_other_credentials_still_work(
    oidc_client: Callable[..., TestClient],
) -> None:
    client = oidc_client(f"http://127.0.0.1:{free_port()}/jwks.json")
    token = Issuer().token()
    assert_error(client.get(COLLECTIONS, headers=bearer(token)), 503, "service_unavailable")
    assert client.get(COLLECTIONS, headers=key(ADMIN_KEY)).status_code == 200


def test_jwks_url_without_issuer_is_a_configuration_error(make_settings: Any) -> None:
    with pytest.raises(ValueError, match="OIDC_ISSUER"):
        make_settings(oidc_jwks_url="http://127.0.0.1:1/jwks.json")
