"""The part format: gzip-compressed JSON Lines, one chunk per line.

Why: parts decode line by line, open with ``zcat | jq``, hold no pickle, and need nothing but the
standard library. Embeddings are base64 of little-endian float32 bytes, so they round-trip bit for
bit (decimal text would not). Keys are sorted and the gzip timestamp is fixed, so re-exporting the
same page (after a crash, or in another backup) produces the same bytes and the same sha256.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Sequence

import numpy as np

from knowledgebeast.errors import BackupError
from knowledgebeast.store.base import StoredChunk

PART_SUFFIX = ".jsonl.gz"
_FLOAT32_LE = np.dtype("<f4")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_part(chunks: Sequence[StoredChunk]) -> bytes:
    """Serialize exported chunks; every chunk must carry its embedding (a restore needs it)."""
    lines: list[str] = []
    for chunk in chunks:
        if chunk.embedding is None:
            raise BackupError(f"chunk {chunk.id!r} was exported without its embedding", details={"id": chunk.id})
        vector = np.ascontiguousarray(chunk.embedding, dtype=_FLOAT32_LE).reshape(-1)
        record = {
            "id": chunk.id,
            "text": chunk.text,
            "metadata": chunk.metadata,
            "embedding": base64.b64encode(vector.tobytes()).decode("ascii"),
        }
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    payload = ("\n".join(lines) + "\n").encode() if lines else b""
    return gzip.compress(payload, compresslevel=6, mtime=0)


def decode_part(data: bytes, *, name: str = "part") -> list[StoredChunk]:
    """Inverse of :func:`encode_part`; a damaged part raises :class:`BackupError` naming it."""
    try:
        text = gzip.decompress(data).decode()
        chunks = []
        for line in text.splitlines():
            if not line:
                continue
            record = json.loads(line)
            vector = np.frombuffer(base64.b64decode(record["embedding"], validate=True), dtype=_FLOAT32_LE)
            chunks.append(
                StoredChunk(
                    id=str(record["id"]),
                    text=str(record["text"]),
                    metadata=dict(record["metadata"]),
                    embedding=vector.astype(np.float32),
                )
            )
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"backup part {name} cannot be decoded: {exc}", details={"part": name}) from exc
    return chunks
