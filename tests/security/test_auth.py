"""Authentication and tenant isolation through the real app: API keys, JWTs, collection restrictions.

Every case goes through ``create_app`` in APP_ENV=production against real Chroma, so what is
asserted is what a client sees: status, the one error shape, and which data comes back.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.helpers import (
    ADMIN_KEY,
    AUDIENCE,
    ISSUER,
    JWT_SECRET,
    TENANT_A_KEY,
    TENANT_B_KEY,
    assert_error,
    bearer,
    key,
    mint,
)

DOCS = {
    "a": ("alpha-runbook.md", "# Alpha runbook\n\nRotate the alpha database credentials every quarter."),
    "b": ("beta-runbook.md", "# Beta runbook\n\nRotate the beta database credentials every month."),
}
QUESTION = "how often are database credentials rotated"


def _seed(client: TestClient, coll_a: str, coll_b: str) -> dict[str, str]:
    """Index one document per tenant collection with the unrestricted admin key; returns doc ids."""
    ids = {}
    for tag, collection in (("a", coll_a), ("b", coll_b)):
        source, text = DOCS[tag]
        response = client.post(
            "/api/v1/documents",
            json={"text": text, "source": source, "collection": collection, "media_type": "text/markdown"},
            headers=key(ADMIN_KEY),
        )
        assert response.status_code == 201, response.text
        ids[tag] = response.json()["document_id"]
    return ids


@pytest.fixture
def seeded(
    secure_client: Callable[..., TestClient], collections_ab: tuple[str, str]
) -> tuple[TestClient, str, str, dict[str, str]]:
    client = secure_client()
    coll_a, coll_b = collections_ab
    return client, coll_a, coll_b, _seed(client, coll_a, coll_b)


def _query(client: TestClient, collection: str, headers: dict[str, str], text: str = QUESTION) -> Any:
    return client.post("/api/v1/query", json={"query": text, "collection": collection}, headers=headers)


# API keys ---------------------------------------------------------------------------------------


def test_missing_and_invalid_api_keys_are_401_everywhere_but_probes(seeded: Any) -> None:
    client, coll_a, _, ids = seeded
    protected = [
        ("POST", "/api/v1/query", {"query": "x", "collection": coll_a}),
        ("POST", "/api/v1/documents", {"text": "x", "source": "x.txt", "collection": coll_a}),
        ("GET", "/api/v1/collections", None),
        ("GET", f"/api/v1/collections/{coll_a}", None),
        ("DELETE", f"/api/v1/collections/{coll_a}", None),
        ("GET", f"/api/v1/documents/{ids['a']}", None),
        ("DELETE", f"/api/v1/documents/{ids['a']}", None),
        ("POST", "/api/v1/cache/clear", None),
    ]
    for method, path, body in protected:
        for headers in ({}, key("not-a-real-key"), key(ADMIN_KEY + "x"), {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            error = assert_error(client.request(method, path, json=body, headers=headers), 401, "unauthorized")
            assert "not-a-real-key" not in error["message"] and ADMIN_KEY not in json.dumps(error)
    # the collection was not deleted by any of the refused calls
    assert client.get(f"/api/v1/collections/{coll_a}", headers=key(ADMIN_KEY)).json()["documents"] == 1
    for probe in ("/health", "/health/live", "/health/ready"):
        assert client.get(probe).status_code == 200
    assert "auth" not in client.get("/health").json()  # auth is on: /health does not claim otherwise


def test_several_keys_each_work_within_their_collections(seeded: Any) -> None:
    client, coll_a, coll_b, _ = seeded
    for headers in (key(ADMIN_KEY), key(TENANT_A_KEY)):
        response = _query(client, coll_a, headers)
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["citation"]["source"] == "alpha-runbook.md"
    response = _query(client, coll_b, key(TENANT_B_KEY))
    assert response.status_code == 200 and response.json()["results"][0]["citation"]["source"] == "beta-runbook.md"
    assert _query(client, coll_b, key(ADMIN_KEY)).status_code == 200


def test_restricted_key_gets_403_on_other_collections_and_sees_only_its_own(seeded: Any) -> None:
    client, coll_a, coll_b, ids = seeded
    a = key(TENANT_A_KEY)
    error = assert_error(_query(client, coll_b, a), 403, "forbidden")
    assert error["details"] == {"collection": coll_b}
    assert_error(
        client.post("/api/v1/documents", json={"text": "planted", "source": "p.txt", "collection": coll_b}, headers=a),
        403,
        "forbidden",
    )
    assert_error(
        client.post(
            "/api/v1/documents/upload", data={"collection": coll_b}, files={"file": ("p.txt", b"planted")}, headers=a
        ),
        403,
        "forbidden",
    )
    # reads of the other tenant's objects look exactly like objects that do not exist
    assert_error(client.get(f"/api/v1/collections/{coll_b}", headers=a), 404, "collection_not_found")
    assert_error(client.delete(f"/api/v1/collections/{coll_b}", headers=a), 404, "collection_not_found")
    assert_error(client.get(f"/api/v1/documents/{ids['b']}", headers=a), 404, "document_not_found")
    assert_error(client.delete(f"/api/v1/documents/{ids['b']}", headers=a), 404, "document_not_found")
    assert client.get(f"/api/v1/documents/{ids['a']}", headers=a).status_code == 200

    listed = {c["name"] for c in client.get("/api/v1/collections", headers=a).json()["collections"]}
    assert listed == {coll_a}
    listed_b = {c["name"] for c in client.get("/api/v1/collections", headers=key(TENANT_B_KEY)).json()["collections"]}
    assert listed_b == {coll_b}
    everything = {c["name"] for c in client.get("/api/v1/collections", headers=key(ADMIN_KEY)).json()["collections"]}
    assert {coll_a, coll_b} <= everything
    # nothing of B changed
    info_b = client.get(f"/api/v1/collections/{coll_b}", headers=key(ADMIN_KEY)).json()
    assert info_b["documents"] == 1


def test_restricted_key_cannot_run_global_admin_operations(seeded: Any) -> None:
    """Clearing the shared cache or reading metrics spans every tenant, even with the admin scope."""
    client, *_ = seeded
    assert_error(client.post("/api/v1/cache/clear", headers=key(TENANT_A_KEY)), 403, "forbidden")
    assert client.post("/api/v1/cache/clear", headers=key(ADMIN_KEY)).status_code == 200


def test_api_key_configuration_edge_cases() -> None:
    from knowledgebeast.errors import ConfigurationError
    from knowledgebeast.security.auth import Authenticator, parse_api_keys

    entries = parse_api_keys(" k1 , k2:one|two ,\nk3: ,k4:one| ")
    assert [e.collections for e in entries] == [None, frozenset({"one", "two"}), frozenset(), frozenset({"one"})]
    auth = Authenticator(entries)
    assert auth.identify("k1", None).collections is None
    assert auth.identify("k3", None).can_access("anything") is False  # "key:" restricts to nothing
    assert auth.identify("k1", None).subject != auth.identify("k2", None).subject
    assert all(len(e.digest) == 32 for e in entries)  # only digests are kept
    with pytest.raises(ConfigurationError, match="empty key"):
        parse_api_keys("good, :coll")


# JWT --------------------------------------------------------------------------------------------


def test_valid_jwt_queries_and_scopes_are_enforced(seeded: Any) -> None:
    client, coll_a, _, ids = seeded
    token = mint(scope="query")
    response = _query(client, coll_a, bearer(token))
    assert response.status_code == 200 and response.json()["results"][0]["citation"]["source"] == "alpha-runbook.md"
    assert client.get(f"/api/v1/documents/{ids['a']}", headers=bearer(token)).status_code == 200
    # query scope only: ingest and admin routes are 403, not 401 (the caller is known)
    error = assert_error(
        client.post(
            "/api/v1/documents", json={"text": "t", "source": "t.txt", "collection": coll_a}, headers=bearer(token)
        ),
        403,
        "forbidden",
    )
    assert error["details"] == {"scope": "ingest"}
    assert_error(client.delete(f"/api/v1/documents/{ids['a']}", headers=bearer(token)), 403, "forbidden")
    assert_error(client.post("/api/v1/cache/clear", headers=bearer(token)), 403, "forbidden")
    # no scope at all: nothing is allowed
    assert_error(_query(client, coll_a, bearer(mint(scope=None))), 403, "forbidden")
    assert_error(_query(client, coll_a, bearer(mint(scope="read write"))), 403, "forbidden")
    # list form of scopes, ingest scope allows ingest; admin implies everything
    ingest = bearer(mint(scope=None, scopes=["ingest"]))
    created = client.post(
        "/api/v1/documents", json={"text": "note", "source": "n.txt", "collection": coll_a}, headers=ingest
    )
    assert created.status_code == 201, created.text
    assert_error(_query(client, coll_a, ingest), 403, "forbidden")
    assert client.post("/api/v1/cache/clear", headers=bearer(mint(scope="admin"))).status_code == 200


@pytest.mark.parametrize(
    ("case", "make_token"),
    [
        ("expired", lambda: mint(exp=int(time.time()) - 60, iat=int(time.time()) - 400)),
        ("nbf in the future", lambda: mint(nbf=int(time.time()) + 120)),
        ("iat in the future", lambda: mint(iat=int(time.time()) + 600, exp=int(time.time()) + 900)),
        ("wrong issuer", lambda: mint(iss="https://evil.example.test/")),
        ("missing issuer", lambda: mint(iss=None)),
        ("wrong audience", lambda: mint(aud="someone-else")),
        ("missing audience", lambda: mint(aud=None)),
        ("wrong signature", lambda: mint("another-secret-0123456789abcdef0123456789abcdef0123456789abcdef0123")),
        ("tampered payload", lambda: _tamper(mint(scope="query"), scope="admin")),
        ("alg none", lambda: _unsigned(scope="admin")),
        ("alg HS512 with the same secret", lambda: mint(algorithm="HS512")),
        ("missing exp", lambda: mint(exp=None)),
        ("missing sub", lambda: mint(sub=None)),
        ("missing iat", lambda: mint(iat=None)),
        ("garbage", lambda: "not.a.jwt"),
        ("empty", lambda: ""),
        ("collections not a list", lambda: mint(collections="tenant-a")),
        ("collections with a non-string", lambda: mint(collections=["ok", 7])),
    ],
)
def test_invalid_jwts_are_401(
    secure_client: Callable[..., TestClient], collections_ab: tuple[str, str], case: str, make_token: Callable[[], str]
) -> None:
    client, (coll_a, _) = secure_client(), collections_ab
    token = make_token()
    error = assert_error(_query(client, coll_a, bearer(token)), 401, "unauthorized")
    if token:
        assert token not in json.dumps(error)
    assert JWT_SECRET not in json.dumps(error)


def test_jwt_collections_claim_restricts(seeded: Any) -> None:
    client, coll_a, coll_b, ids = seeded
    token = bearer(mint(scope="query ingest", collections=[coll_a]))
    assert _query(client, coll_a, token).status_code == 200
    assert_error(_query(client, coll_b, token), 403, "forbidden")
    assert_error(client.get(f"/api/v1/documents/{ids['b']}", headers=token), 404, "document_not_found")
    assert {c["name"] for c in client.get("/api/v1/collections", headers=token).json()["collections"]} == {coll_a}
    nothing = bearer(mint(collections=[]))
    assert_error(_query(client, coll_a, nothing), 403, "forbidden")
    assert client.get("/api/v1/collections", headers=nothing).json()["collections"] == []


def test_jwt_without_issuer_or_audience_configured(
    secure_client: Callable[..., TestClient], collections_ab: Any
) -> None:
    """iss/aud are only checked when configured; exp/iat/sub always are."""
    client = secure_client(jwt_issuer=None, jwt_audience=None, api_key=None)
    coll_a, _ = collections_ab
    ok = client.post(
        "/api/v1/documents",
        json={"text": "hello", "source": "h.txt", "collection": coll_a},
        headers=bearer(mint(iss=None, aud=None, scope="ingest")),
    )
    assert ok.status_code == 201, ok.text
    assert client.get("/api/v1/collections", headers=bearer(mint(iss="anyone", aud=None))).status_code == 200
    assert_error(client.get("/api/v1/collections", headers=key(ADMIN_KEY)), 401, "unauthorized")  # no keys here


# Tenant isolation through the cache ------------------------------------------------------------


class _SpyCache:
    """Delegates to the real cache and records the keys looked up (to prove a refusal never reads it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.gets: list[str] = []

    def get(self, key: str) -> bytes | None:
        self.gets.append(key)
        return self.inner.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.inner.set(key, value, ttl)

    def clear(self) -> int:
        return int(self.inner.clear())

    def ping(self) -> bool:
        return bool(self.inner.ping())


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_cached_answers_never_cross_tenants(
    backend: str,
    make_services: Any,
    collections_ab: tuple[str, str],
    redis_server: Any,
) -> None:
    from knowledgebeast.api.app import create_app

    coll_a, coll_b = collections_ab
    overrides: dict[str, Any] = {
        "app_env": "production",
        "api_key": f"{ADMIN_KEY},{TENANT_A_KEY}:{coll_a},{TENANT_B_KEY}:{coll_b}",
        "jwt_secret": JWT_SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }
    if backend == "redis":
        overrides.update(redis_host="127.0.0.1", redis_port=redis_server.port)
    services = make_services(**overrides)
    spy = _SpyCache(services.cache)
    services.__dict__["cache"] = spy
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    _seed(client, coll_a, coll_b)

    first = _query(client, coll_a, key(TENANT_A_KEY))
    assert first.status_code == 200 and first.json()["cached"] is False
    again = _query(client, coll_a, key(TENANT_A_KEY))
    assert again.json()["cached"] is True
    looked_up = len(spy.gets)

    # tenant B asks the very same question of A's collection: refused before the cache is touched
    assert_error(_query(client, coll_a, key(TENANT_B_KEY)), 403, "forbidden")
    assert_error(_query(client, coll_a, bearer(mint(collections=[coll_b]))), 403, "forbidden")
    assert len(spy.gets) == looked_up

    # ... and the same question of its own collection is a different cache entry with B's data only
    own = _query(client, coll_b, key(TENANT_B_KEY))
    assert own.status_code == 200 and own.json()["cached"] is False
    assert {r["citation"]["source"] for r in own.json()["results"]} == {"beta-runbook.md"}
    assert "alpha" not in own.text.lower()
    assert spy.gets[-1] != spy.gets[0]  # the key includes the collection
    # an authorised principal does get the shared cached entry of A (isolation is by authorisation)
    assert _query(client, coll_a, key(ADMIN_KEY)).json()["cached"] is True
    if backend == "redis":
        stored = {k.decode() for k in spy.inner.client.scan_iter(match="kb:q:*")}
        assert {spy.gets[0], spy.gets[-1]} <= stored


def test_query_cache_key_includes_collection() -> None:
    from knowledgebeast.cache.base import query_cache_key

    params = {"top_k": 5, "mode": "hybrid"}
    a = query_cache_key(collection="tenant-a", version="1", query=QUESTION, params=params)
    b = query_cache_key(collection="tenant-b", version="1", query=QUESTION, params=params)
    assert a != b and a.startswith("kb:q:") and "tenant" not in a  # hashed: no tenant name in Redis keys


# helpers ----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(**claims: Any) -> str:
    """A token with ``alg: none`` and no signature (PyJWT refuses to create one with a key)."""
    now = int(time.time())
    payload = {"sub": "attacker", "iat": now, "exp": now + 300, "iss": ISSUER, "aud": AUDIENCE, **claims}
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def _tamper(token: str, **claims: Any) -> str:
    """Same header and signature, payload changed: the signature no longer matches."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    return f"{header}.{_b64(json.dumps(body).encode())}.{signature}"
