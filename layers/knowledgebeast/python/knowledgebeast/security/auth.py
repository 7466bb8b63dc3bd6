"""API-key and JWT authentication.

API keys: ``API_KEY`` holds comma-separated entries ``key`` or ``key:coll1|coll2`` (or a Secrets
Manager secret with the same text, ``API_KEYS_SECRET_ARN``). Only SHA-256 digests are kept in
memory and compared with :func:`hmac.compare_digest`. JWT: HS256 with ``JWT_SECRET``; exp, nbf
and iat are verified (and iss/aud when configured); ``scope`` (space separated) or ``scopes``
gives the scopes and ``collections`` the tenant restriction. With no credential configured the
API is open, which only ``development``/``test`` allow (see Settings.require_safe_for_environment).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from starlette.requests import Request

from knowledgebeast.errors import AuthenticationError, PermissionDeniedError
from knowledgebeast.security.principal import ANONYMOUS, SCOPES, Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiKeyEntry:
    digest: bytes
    collections: frozenset[str] | None
    label: str


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_api_keys(text: str | None) -> list[ApiKeyEntry]:
    entries: list[ApiKeyEntry] = []
    for raw in (text or "").replace("\n", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        key, _, scope = item.partition(":")
        collections = frozenset(c for c in scope.split("|") if c) if scope else None
        digest = _digest(key)
        entries.append(ApiKeyEntry(digest, collections, label="key-" + digest.hex()[:8]))
    return entries


class Authenticator:
    def __init__(
        self,
        api_keys: list[ApiKeyEntry],
        *,
        jwt_secret: str | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: str | None = None,
    ) -> None:
        self._keys = api_keys
        self._jwt_secret = jwt_secret
        self._issuer = jwt_issuer
        self._audience = jwt_audience

    @property
    def open(self) -> bool:
        return not self._keys and not self._jwt_secret

    async def authenticate(self, request: Request, scope: str) -> Principal:
        principal = self.identify(request.headers.get("x-api-key"), request.headers.get("authorization"))
        if not principal.has_scope(scope):
            raise PermissionDeniedError(f"this credential lacks the {scope!r} scope", details={"scope": scope})
        return principal

    def identify(self, api_key: str | None, authorization: str | None) -> Principal:
        if self.open:
            return ANONYMOUS
        if api_key:
            return self._from_api_key(api_key)
        if authorization and authorization.lower().startswith("bearer ") and self._jwt_secret:
            return self._from_jwt(authorization[7:].strip())
        raise AuthenticationError("missing credentials: send X-API-Key or Authorization: Bearer <JWT>")

    def _from_api_key(self, key: str) -> Principal:
        digest = _digest(key)
        match: ApiKeyEntry | None = None
        for entry in self._keys:  # compare against every entry: timing does not reveal which matched
            if hmac.compare_digest(entry.digest, digest):
                match = entry
        if match is None:
            raise AuthenticationError("invalid API key")
        return Principal(subject=match.label, collections=match.collections)

    def _from_jwt(self, token: str) -> Principal:
        import jwt

        assert self._jwt_secret is not None
        try:
            claims = jwt.decode(
                token,
                self._jwt_secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "sub"], "verify_aud": self._audience is not None},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        raw_scopes = claims.get("scope") or claims.get("scopes") or []
        scopes = raw_scopes.split() if isinstance(raw_scopes, str) else list(raw_scopes)
        collections = claims.get("collections")
        return Principal(
            subject=str(claims["sub"]),
            scopes=frozenset(s for s in scopes if s in SCOPES),
            collections=frozenset(str(c) for c in collections) if isinstance(collections, list) else None,
        )
