"""API-key and JWT authentication.

API keys: ``API_KEY`` holds comma-separated entries ``key`` or ``key:coll1|coll2`` (or a Secrets
Manager secret with the same text, ``API_KEYS_SECRET_ARN``). Only SHA-256 digests are kept in
memory and compared with :func:`hmac.compare_digest`. JWT: HS256 with ``JWT_SECRET``, or RS256/ES256
from an OIDC issuer such as Cognito (:mod:`knowledgebeast.security.oidc`); exp, nbf and iat are
verified (and iss/aud when configured); ``scope`` (space separated) or ``scopes``
gives the scopes and ``collections`` the tenant restriction. With no credential configured the
API is open, which only ``development``/``test`` allow (see Settings.require_safe_for_environment).

Rotation: keys and the JWT secret come from :class:`~knowledgebeast.secrets.SecretSource`, read
again once their cached copy is ``SECRETS_MAX_AGE_SECONDS`` old; a changed key text is parsed again,
so a rotated key is accepted (and the old one refused) within minutes, without a redeploy. Whether
the API is open is decided once, at start: a secret rotated to nothing refuses everyone, it never
opens the API.

Nothing secret ever leaves this module: errors name the failure class (``ExpiredSignatureError``),
never the key, the token or the JWT secret, and keys are only ever held as digests.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from knowledgebeast.errors import AuthenticationError, ConfigurationError
from knowledgebeast.secrets import SecretSource
from knowledgebeast.security.oidc import OidcVerifier
from knowledgebeast.security.principal import ANONYMOUS, SCOPES, AuthMethod, Principal

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
        key, restricted, scope = item.partition(":")
        key = key.strip()  # HTTP strips header values, so a padded key could never match
        if not key:
            raise ConfigurationError("an API_KEY entry has an empty key (expected `key` or `key:coll1|coll2`)")
        # "key:" with an empty list restricts to nothing (fail closed), it does not mean "everything".
        collections = frozenset(c.strip() for c in scope.split("|") if c.strip()) if restricted else None
        digest = _digest(key)
        entries.append(ApiKeyEntry(digest, collections, label="key-" + digest.hex()[:8]))
    return entries


class ApiKeyRing:
    """The API-key entries of the current secret text, parsed again only when the text changes.

    A rotated text that does not parse keeps the previous entries (logged): a typo in the secret
    must not lock every caller out; at start-up the same typo is a configuration error.
    """

    def __init__(self, source: SecretSource) -> None:
        self._source = source
        self._text = source.get()
        self._entries = parse_api_keys(self._text)

    def entries(self) -> list[ApiKeyEntry]:
        text = self._source.get()
        if text != self._text:
            try:
                self._entries = parse_api_keys(text)
            except ConfigurationError:
                logger.error("the rotated API key secret does not parse; keeping the previous keys")
            self._text = text
        return self._entries


def _as_source(value: str | SecretSource | None) -> SecretSource:
    return value if isinstance(value, SecretSource) else SecretSource(literal=value or None)


class Authenticator:
    def __init__(
        self,
        api_keys: list[ApiKeyEntry] | SecretSource | None = None,
        *,
        jwt_secret: str | SecretSource | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: str | None = None,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self._keys: list[ApiKeyEntry] | ApiKeyRing = (
            ApiKeyRing(api_keys) if isinstance(api_keys, SecretSource) else list(api_keys or [])
        )
        self._jwt_secret = _as_source(jwt_secret)
        self._issuer = jwt_issuer
        self._audience = jwt_audience
        self._oidc = oidc
        self._open = not self._key_entries() and not self._jwt_secret.get() and oidc is None

    def _key_entries(self) -> list[ApiKeyEntry]:
        return self._keys.entries() if isinstance(self._keys, ApiKeyRing) else self._keys

    @property
    def open(self) -> bool:
        """No credential was configured at start (development mode): every caller is anonymous."""
        return self._open

    async def authenticate(self, request: Request, scope: str) -> Principal:
        """Identify the caller and require ``scope`` (401 unknown caller, 403 known but not allowed)."""
        principal = self.identify_request(request)
        principal.require_scope(scope)
        return principal

    def identify_request(self, request: Request) -> Principal:
        """Who is calling, without any scope check (the rate limiter needs the identity first)."""
        return self.identify(request.headers.get("x-api-key"), request.headers.get("authorization"))

    def identify(self, api_key: str | None, authorization: str | None) -> Principal:
        if self.open:
            return ANONYMOUS
        if api_key:
            return self._from_api_key(api_key)
        if authorization and authorization.lower().startswith("bearer "):
            return self._from_jwt(authorization[7:].strip())
        raise AuthenticationError("missing credentials: send X-API-Key or Authorization: Bearer <JWT>")

    def _from_api_key(self, key: str) -> Principal:
        digest = _digest(key)
        match: ApiKeyEntry | None = None
        for entry in self._key_entries():  # compare against every entry: timing does not reveal which matched
            if hmac.compare_digest(entry.digest, digest):
                match = entry
        if match is None:
            raise AuthenticationError("invalid API key")
        return Principal(subject=match.label, collections=match.collections, method="api_key")

    def _from_jwt(self, token: str) -> Principal:
        """HS256 tokens are checked with JWT_SECRET, asymmetric ones with the OIDC issuer's keys."""
        import jwt

        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        if algorithm == "HS256":
            return _principal(self._decode_hs256(token), method="jwt")
        if self._oidc is not None:
            claims = self._oidc.decode(token)
            return _principal(claims, method="oidc", scopes=self._oidc.scopes(_scope_claim(claims)))
        raise AuthenticationError("invalid token: InvalidAlgorithmError")

    def _decode_hs256(self, token: str) -> dict[str, Any]:
        import jwt

        secret = self._jwt_secret.get()
        if not secret:
            raise AuthenticationError("invalid token: HS256 tokens are not accepted (no JWT_SECRET)")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "sub"], "verify_aud": self._audience is not None},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        return claims


def _scope_claim(claims: dict[str, Any]) -> list[str]:
    raw_scopes = claims.get("scope") or claims.get("scopes") or []
    if isinstance(raw_scopes, str):
        return raw_scopes.split()
    if isinstance(raw_scopes, list):
        return [s for s in raw_scopes if isinstance(s, str)]
    return []


def _principal(claims: dict[str, Any], *, method: AuthMethod, scopes: list[str] | None = None) -> Principal:
    granted = _scope_claim(claims) if scopes is None else scopes
    return Principal(
        subject=str(claims["sub"]),
        scopes=frozenset(s for s in granted if s in SCOPES),
        collections=_collections_claim(claims),
        method=method,
    )


def _collections_claim(claims: dict[str, object]) -> frozenset[str] | None:
    """The tenant restriction of a token, failing closed.

    Only an absent (or null) claim means "every collection". A claim of any other shape than a list
    of strings (a bare string, a number, an object) is refused: silently reading it as "no
    restriction" would hand a tenant-scoped token the whole knowledge base.
    """
    if "collections" not in claims or claims["collections"] is None:
        return None
    value = claims["collections"]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise AuthenticationError("invalid token: the collections claim must be a list of collection names")
