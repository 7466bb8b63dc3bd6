"""Sources a sync compares with the index: a local folder, or an S3 bucket and prefix.

Each entry is identified as the rest of KnowledgeBeast identifies it (a local file by its resolved
path, as ``knowledgebeast ingest`` does; an object by ``s3://bucket/key`` in the collection named by
its first key segment, as the ingest Lambda does), so sync, ingest and events address the same
documents. The stamp says which version of the entry the listing saw: a file's sha256 and size, an
object's ETag (+ version id in a versioned bucket), size and last-modified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from knowledgebeast.aws.s3_objects import collection_for_key, object_exists, read_object, source_uri
from knowledgebeast.errors import KnowledgeBeastError
from knowledgebeast.registry import SourceStamp


@dataclass(frozen=True)
class SourceEntry:
    """One listed document. ``error`` (e.g. an invalid collection name) makes it fail, not vanish."""

    source: str
    collection: str
    name: str
    stamp: SourceStamp
    error: str = ""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    filename: str
    media_type: str | None
    metadata: dict[str, str]
    stamp: SourceStamp


class SourceProtocol(Protocol):
    #: Every registry record whose source starts with this belongs to the source (for ``--delete``).
    scope: str

    def entries(self) -> Iterator[SourceEntry]: ...

    def read(self, entry: SourceEntry) -> Fetched | None: ...

    def exists(self, source: str) -> bool: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalSource:
    """Files under ``root`` (hidden files skipped), all in one collection."""

    def __init__(self, root: Path, collection: str) -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise KnowledgeBeastError(f"no such directory: {root}")
        self.collection = collection
        self.scope = str(self.root) + "/"

    def entries(self) -> Iterator[SourceEntry]:
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(self.root).parts):
                continue
            stamp = SourceStamp(etag=file_sha256(path), size=path.stat().st_size)
            yield SourceEntry(str(path), self.collection, path.name, stamp)

    def read(self, entry: SourceEntry) -> Fetched | None:
        path = Path(entry.source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        stamp = SourceStamp(etag=hashlib.sha256(data).hexdigest(), size=len(data))
        return Fetched(data, path.name, None, {}, stamp)

    def exists(self, source: str) -> bool:
        return Path(source).is_file()


class S3Source:
    """Objects under ``s3://bucket/prefix``; collection = ``collection`` or each key's first segment."""

    def __init__(self, s3: Any, bucket: str, prefix: str, *, collection: str | None, max_bytes: int) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.collection = collection
        self.max_bytes = max_bytes
        self.scope = source_uri(bucket, prefix)

    @classmethod
    def from_uri(cls, s3: Any, uri: str, *, collection: str | None, max_bytes: int) -> S3Source:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise KnowledgeBeastError(f"not an S3 location: {uri!r} (use s3://bucket/prefix)")
        return cls(s3, bucket, prefix, collection=collection, max_bytes=max_bytes)

    def entries(self) -> Iterator[SourceEntry]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                if key.endswith("/"):
                    continue
                stamp = SourceStamp(
                    etag=str(obj.get("ETag") or ""),
                    size=int(obj.get("Size") or 0),
                    modified=obj["LastModified"].isoformat() if obj.get("LastModified") else "",
                )
                try:
                    collection = self.collection or collection_for_key(key)
                except KnowledgeBeastError as exc:
                    yield SourceEntry(source_uri(self.bucket, key), "", key, stamp, error=exc.message)
                    continue
                yield SourceEntry(source_uri(self.bucket, key), collection, key, stamp)

    def read(self, entry: SourceEntry) -> Fetched | None:
        obj = read_object(self.s3, self.bucket, entry.name, max_bytes=self.max_bytes)
        if obj is None:
            return None
        return Fetched(obj.data, entry.name.rsplit("/", 1)[-1], obj.content_type, obj.metadata, obj.stamp)

    def exists(self, source: str) -> bool:
        return object_exists(self.s3, self.bucket, source.removeprefix(f"s3://{self.bucket}/"))
