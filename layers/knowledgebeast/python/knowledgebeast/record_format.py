"""The stored record format, shared by ingest (writes it), query (reads it) and backup (moves it).

One module so the three can never disagree on a key name or a separator; a change here is a
change of the on-disk format (old backups and indexes keep the old one).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Collection metadata key holding an opaque token that changes on every write (cache key part).
VERSION_KEY = "kb_version"
#: Chunk metadata key holding the analysed terms of the chunk, space separated (lexical retrieval).
TERMS_KEY = "kb_terms"
#: Chunk metadata key holding the enclosing headings, joined by HEADING_SEPARATOR.
HEADING_PATH_KEY = "heading_path"
HEADING_SEPARATOR = " > "
TERMS_SEPARATOR = " "

#: Chunk metadata keys written by KnowledgeBeast; user metadata may not override them.
SYSTEM_KEYS = frozenset(
    {
        "document_id",
        "source",
        "title",
        "page",
        HEADING_PATH_KEY,
        "start",
        "end",
        "chunk_index",
        "chunk_count",
        "content_hash",
        "media_type",
        "ingested_at",
        TERMS_KEY,
    }
)
#: System keys that are bookkeeping, never shown to API clients.
HIDDEN_KEYS = frozenset({TERMS_KEY, "content_hash"})
#: User metadata keys a document may carry (API uploads, S3 user metadata and tags).
MAX_USER_METADATA_KEYS = 32


def join_heading_path(headings: Iterable[str]) -> str:
    return HEADING_SEPARATOR.join(headings)


def split_heading_path(value: object) -> list[str]:
    return [part for part in str(value or "").split(HEADING_SEPARATOR) if part]


def join_terms(terms: Iterable[str]) -> str:
    return TERMS_SEPARATOR.join(terms)


def split_terms(value: object) -> list[str]:
    return str(value or "").split()
