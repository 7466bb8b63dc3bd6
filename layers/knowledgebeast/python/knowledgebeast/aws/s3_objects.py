"""Reading one S3 object for indexing: its collection, its bytes, its metadata and tags, its stamp.

- **Collection** = the first key segment (``<collection>/path/file.pdf``); a key without ``/``
  goes to ``default``. An invalid or reserved collection name is a permanent failure.
- **Metadata**: S3 user metadata (``x-amz-meta-<name>``) becomes ``meta_<name>`` and object tags
  become ``tag_<name>`` in every chunk's metadata (names lower-cased, other characters as ``_``;
  values are strings), so queries can filter on them. Tags win when the 32-key limit is reached.
- **Stamp**: ETag, version id, size and last-modified go into the registry record, so sync and
  reconcile can compare a listing with the index without downloading anything.
"""

from __future__ import annotations

import email.header
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from knowledgebeast.identity import check_collection_name
from knowledgebeast.parsing.base import too_large
from knowledgebeast.record_format import MAX_USER_METADATA_KEYS
from knowledgebeast.registry import SourceStamp

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
META_PREFIX = "meta_"
TAG_PREFIX = "tag_"
MAX_METADATA_VALUE_CHARS = 1024
#: S3 error codes meaning "the object (version) is gone", not "S3 is unwell".
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
_NAME_JUNK = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class S3Object:
    """An object as read for indexing."""

    data: bytes
    content_type: str | None
    metadata: dict[str, str]
    stamp: SourceStamp = field(default_factory=SourceStamp)


def source_uri(bucket: str, key: str) -> str:
    """A document's identity: a new upload of the same key replaces it, a delete removes it."""
    return f"s3://{bucket}/{key}"


def collection_for_key(key: str, default: str = DEFAULT_COLLECTION) -> str:
    """The first key segment, or ``default`` for a key without ``/``; validated."""
    head, slash, _ = key.partition("/")
    return check_collection_name(head if slash else default)


def chunk_metadata(user_metadata: Mapping[str, str], tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """S3 tags and user metadata as filterable chunk metadata (``tag_<name>``, ``meta_<name>``)."""
    pairs = [(TAG_PREFIX, tag.get("Key", ""), tag.get("Value", "")) for tag in tags]
    pairs += [(META_PREFIX, name, value) for name, value in sorted(user_metadata.items())]
    out: dict[str, str] = {}
    for prefix, name, value in pairs:
        clean = _NAME_JUNK.sub("_", str(name).lower()).strip("_")[:64]
        text = _decode_mime_words(str(value)).strip()[:MAX_METADATA_VALUE_CHARS]
        key = prefix + clean
        if clean and text and key not in out:
            if len(out) >= MAX_USER_METADATA_KEYS:
                logger.warning("S3 metadata over the key limit dropped", extra={"metadata_key": key})
                continue
            out[key] = text
    return out


def _decode_mime_words(value: str) -> str:
    """S3 returns non-ASCII user metadata RFC 2047-encoded (``=?UTF-8?B?...?=``)."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError):
        return value


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def read_object(
    s3: Any, bucket: str, key: str, *, version_id: str | None = None, max_bytes: int, read_tags: bool = True
) -> S3Object | None:
    """Download an object (``None`` if it is gone); larger than ``max_bytes`` is a permanent failure."""
    args = {"Bucket": bucket, "Key": key}
    if version_id:
        args["VersionId"] = version_id
    try:
        obj = s3.get_object(**args)
        body = obj["Body"]
        try:
            size = int(obj.get("ContentLength") or 0)
            if size > max_bytes:
                raise too_large(key.rsplit("/", 1)[-1], "object size in bytes", size, max_bytes)
            data = body.read()
        finally:
            body.close()
        tags = s3.get_object_tagging(**args)["TagSet"] if read_tags else []
    except Exception as exc:
        if error_code(exc) in MISSING_OBJECT_CODES:
            return None
        raise
    modified = obj.get("LastModified")
    version = obj.get("VersionId")
    stamp = SourceStamp(
        etag=str(obj.get("ETag") or ""),
        version=str(version) if version and version != "null" else "",
        size=len(data),
        modified=modified.isoformat() if modified is not None else "",
    )
    return S3Object(data, obj.get("ContentType"), chunk_metadata(obj.get("Metadata") or {}, tags), stamp)


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in MISSING_OBJECT_CODES:
            return False
        raise
    return True
