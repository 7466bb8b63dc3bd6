"""Deterministic identifiers: the basis of idempotent ingest.

A document id depends only on (collection, source uri), so re-uploading a file addresses the same
document; a chunk id adds the content hash and chunk index, so a re-ingest of identical content
writes identical ids and a changed document never collides with its old chunks.
"""

from __future__ import annotations

import hashlib
import re

from knowledgebeast.errors import CollectionNotFoundError, ValidationError

COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")
RESERVED_COLLECTIONS = frozenset({"kb-documents-registry"})


def is_user_collection(name: str) -> bool:
    """False for KnowledgeBeast's own collections (the document registry): never listed, queried or deleted."""
    return name not in RESERVED_COLLECTIONS


def require_user_collection(name: str) -> str:
    """404, exactly as for a missing collection: reserved names are not part of the API's namespace."""
    if not is_user_collection(name):
        raise CollectionNotFoundError(f"collection {name!r} does not exist", details={"collection": name})
    return name


def document_id(collection: str, source_uri: str) -> str:
    return hashlib.sha256(f"{collection}\x00{source_uri}".encode()).hexdigest()[:32]


def content_hash(data: bytes, *, fingerprint: str) -> str:
    """Hash of the bytes *and* of everything that changes the chunks (strategy, sizes, model)."""
    digest = hashlib.sha256(data)
    digest.update(b"\x00" + fingerprint.encode())
    return digest.hexdigest()


def chunk_id(doc_id: str, hash_: str, index: int) -> str:
    return f"{doc_id}-{hash_[:12]}-{index:05d}"


def check_collection_name(name: str) -> str:
    """Collection names: 3-63 chars of ``[a-zA-Z0-9._-]``, alphanumeric at both ends, not reserved."""
    if not isinstance(name, str) or not COLLECTION_NAME.match(name) or ".." in name:
        raise ValidationError(
            f"invalid collection name {name!r}: use 3-63 characters of letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit",
            details={"collection": name},
        )
    if name in RESERVED_COLLECTIONS:
        raise ValidationError(f"collection name {name!r} is reserved", details={"collection": name})
    return name
