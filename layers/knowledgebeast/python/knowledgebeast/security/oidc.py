"""Bearer tokens of an OIDC issuer (an Amazon Cognito user pool, Auth0, Keycloak...) verified by JWKS.

The issuer publishes its public keys at ``OIDC_JWKS_URL``; PyJWT's :class:`jwt.PyJWKClient` fetches
them, keeps the set for ``jwks_cache_seconds`` and fetches again when a token names a key id it does
not know (the issuer rotated its keys). Only asymmetric algorithms are accepted here, so a token
can never pass by being signed with a public key as an HMAC secret (algorithm confusion): HS256
tokens go to the ``JWT_SECRET`` path and nowhere else.

Claims: ``iss`` must equal ``OIDC_ISSUER``; ``exp``, ``iat`` and ``sub`` are required. With
``OIDC_AUDIENCE`` set, the token's ``aud`` must contain it, or, for a token without ``aud`` (Cognito
access tokens), its ``client_id`` must equal it. Cognito custom scopes are named
``<resource-server>/<scope>``: ``OIDC_SCOPE_PREFIX`` (e.g. ``knowledgebeast/``) is stripped, and
scopes with any other prefix give nothing.
"""

from __future__ import annotations

from typing import Any

from knowledgebeast.errors import AuthenticationError, ConfigurationError, ServiceUnavailableError

#: Asymmetric algorithms only (see the module docstring); Cognito signs with RS256.
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


class OidcVerifier:
    """Verifies one issuer's tokens; safe to share between threads (PyJWKClient locks its cache)."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str | None = None,
        scope_prefix: str = "",
        jwks_cache_seconds: float = 300,
        timeout: float = 5.0,
    ) -> None:
        import jwt

        try:
            import cryptography  # noqa: F401  (PyJWT needs it for RS256/ES256)
        except ImportError as exc:
            message = "OIDC_JWKS_URL needs the cryptography package (pip install 'pyjwt[crypto]')"
            raise ConfigurationError(message) from exc
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=jwks_cache_seconds, timeout=timeout)
        self._issuer = issuer
        self._audience = audience
        self._prefix = scope_prefix

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims; 401 for a bad token, 503 when the issuer's keys cannot be fetched."""
        import jwt

        try:
            signing_key = self._client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailableError("cannot fetch the token issuer's signing keys") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(ALGORITHMS),
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": False},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        self._check_audience(claims)
        return claims

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if self._audience is None:
            return
        audience = claims.get("aud")
        if audience is None:
            matches = claims.get("client_id") == self._audience
        else:
            matches = self._audience in (audience if isinstance(audience, list) else [audience])
        if not matches:
            raise AuthenticationError("invalid token: InvalidAudienceError")

    def scopes(self, raw: list[str]) -> list[str]:
        """Scope names with the resource-server prefix removed (others dropped)."""
        if not self._prefix:
            return raw
        return [scope[len(self._prefix) :] for scope in raw if scope.startswith(self._prefix)]
