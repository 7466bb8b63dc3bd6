"""Who is calling, with which scopes and which collections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from knowledgebeast.errors import PermissionDeniedError

SCOPES = ("query", "ingest", "admin")

AuthMethod = Literal["api_key", "jwt", "oidc", "anonymous", "other"]


@dataclass(frozen=True)
class Principal:
    """``collections`` None means every collection; ``admin`` implies every scope.

    ``method`` says how the caller authenticated. It namespaces the rate-limit bucket so a JWT whose
    ``sub`` happens to equal an API key's label can never spend (or exhaust) that key's quota.
    """

    subject: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    collections: frozenset[str] | None = None
    anonymous: bool = False
    method: AuthMethod = "other"

    def has_scope(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def require_scope(self, scope: str) -> None:
        """403 (not 401): the caller is known, the credential is just not allowed to do this."""
        if not self.has_scope(scope):
            raise PermissionDeniedError(f"this credential lacks the {scope!r} scope", details={"scope": scope})

    def can_access(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def require_collection(self, collection: str) -> None:
        """Tenant isolation: a collection outside the caller's set is indistinguishable from 403."""
        if not self.can_access(collection):
            raise PermissionDeniedError(
                f"access to collection {collection!r} is not allowed for this credential",
                details={"collection": collection},
            )

    def require_unrestricted(self) -> None:
        """Operations that span every collection (clearing the shared cache, reading process metrics)
        are not for a tenant: a credential restricted to some collections gets 403 even with admin."""
        if self.collections is not None:
            raise PermissionDeniedError(
                "this operation spans every collection; a credential restricted to collections cannot perform it"
            )

    @property
    def rate_limit_key(self) -> str | None:
        """The bucket this caller's requests count against; None for anonymous callers (limited per IP)."""
        if self.anonymous:
            return None
        return f"{self.method}:{self.subject}"


ANONYMOUS = Principal(subject="anonymous", anonymous=True, method="anonymous")
