"""Who is calling, with which scopes and which collections."""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledgebeast.errors import PermissionDeniedError

SCOPES = ("query", "ingest", "admin")


@dataclass(frozen=True)
class Principal:
    """``collections`` None means every collection; ``admin`` implies every scope."""

    subject: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    collections: frozenset[str] | None = None
    anonymous: bool = False

    def has_scope(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def can_access(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def require_collection(self, collection: str) -> None:
        """Tenant isolation: a collection outside the caller's set is indistinguishable from 403."""
        if not self.can_access(collection):
            raise PermissionDeniedError(
                f"access to collection {collection!r} is not allowed for this credential",
                details={"collection": collection},
            )


ANONYMOUS = Principal(subject="anonymous", anonymous=True)
