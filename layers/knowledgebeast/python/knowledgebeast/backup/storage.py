"""Where backup objects go: a tiny key/value blob protocol, S3 in AWS, a directory locally.

Backups need only whole-object put/get/list/exists/delete, so the protocol stays that small and
both implementations are trivially swappable in tests. Keys are ``/``-separated and relative;
missing objects and storage failures become :class:`BackupError` naming the object.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from knowledgebeast.errors import BackupError


class BlobStoreProtocol(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str = "") -> str: ...


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise BackupError(f"invalid backup object key {key!r}")
    return key


class LocalBlobStore:
    """A directory. Writes go to a temporary file first, so a crash never leaves half an object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BackupError(f"backup object {self.url(key)} does not exist", details={"key": key}) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith(".tmp-"))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)


class S3BlobStore:
    """A bucket (and optional prefix) through a boto3 S3 client passed in, created once per process."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _fail(self, action: str, key: str, exc: Exception) -> BackupError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return BackupError(f"cannot {action} backup object {self.url(key)}: {code}", details={"key": key})

    def put(self, key: str, data: bytes) -> None:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def get(self, key: str) -> bytes:
        full = self._key(key)
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read())
        except Exception as exc:
            if _is_missing(exc):
                raise BackupError(f"backup object {self.url(key)} does not exist", details={"key": key}) from exc
            raise self._fail("read", key, exc) from exc

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise self._fail("check", key, exc) from exc
        return True

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            ):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            raise self._fail("delete", key, exc) from exc

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


class ScopedBlobStore:
    """A view of another store under a key prefix (one backup's folder)."""

    def __init__(self, inner: BlobStoreProtocol, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(self.prefix + key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(self.prefix + key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(self.prefix + key)

    def list(self, prefix: str = "") -> list[str]:
        return [key[len(self.prefix) :] for key in self.inner.list(self.prefix + prefix)]

    def delete(self, key: str) -> None:
        self.inner.delete(self.prefix + key)

    def url(self, key: str = "") -> str:
        return self.inner.url(self.prefix + key)


def _is_missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in {"NoSuchKey", "404", "NotFound"}


def open_blob_store(location: str, *, s3_client: Any | None = None) -> BlobStoreProtocol:
    """``s3://bucket[/prefix]`` or a directory path; the S3 client is created only if none is given."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not bucket:
            raise BackupError(f"invalid S3 location {location!r}: expected s3://bucket[/prefix]")
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3BlobStore(s3_client, bucket, prefix)
    return LocalBlobStore(Path(location).expanduser())
