"""Credentials, a JWT minting helper and the error-shape assertion shared by the security tests.

Keys and secrets are long enough for HS256 (PyJWT warns below 32 bytes) and distinctive enough to
grep for in logs.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

JWT_SECRET = "jwt-secret-0123456789abcdef0123456789abcdef-0123456789abcdef0123456789"
ADMIN_KEY = "kb-admin-key-7f3a9c1e5b2d4f60"
TENANT_A_KEY = "kb-tenant-a-key-1a2b3c4d5e6f7a8b"
TENANT_B_KEY = "kb-tenant-b-key-9z8y7x6w5v4u3t2s"
ISSUER = "https://auth.example.test/"
AUDIENCE = "knowledgebeast"


def mint(secret: str = JWT_SECRET, *, algorithm: str = "HS256", **claims: Any) -> str:
    """A token with sensible defaults (sub, iat, exp in 5 min, iss, aud, query scope); None drops a claim."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "scope": "query",
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key(value: str) -> dict[str, str]:
    return {"X-API-Key": value}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with the request id echoed in the header, and nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "request_id", "details"}
    assert error["code"] == code and error["message"]
    assert error["request_id"] and error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return dict(error)
