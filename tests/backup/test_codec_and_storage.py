"""Part format and blob stores: exact float32 round trip, determinism, damage detection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledgebeast.backup.codec import decode_part, encode_part, sha256_hex
from knowledgebeast.backup.storage import LocalBlobStore, ScopedBlobStore, open_blob_store
from knowledgebeast.errors import BackupError
from knowledgebeast.store.base import Metadata, StoredChunk
from tests.backup.helpers import BUCKET, flip_byte


def _chunks() -> list[StoredChunk]:
    awkward = np.array([0.1, -0.0, 1e-45, 3.4028235e38, np.nextafter(np.float32(1), np.float32(2))], dtype=np.float32)
    return [
        StoredChunk("a", "text ✓ \n with newline", {"s": "x", "i": 3, "f": 0.1, "b": False}, embedding=awkward),
        StoredChunk("b", "", {"k": ""}, embedding=np.ones(1, dtype=np.float32)),
    ]


def test_part_round_trips_bit_for_bit() -> None:
    original = _chunks()
    decoded = decode_part(encode_part(original))
    assert [c.id for c in decoded] == ["a", "b"]
    for before, after in zip(original, decoded, strict=True):
        assert after.text == before.text
        assert after.metadata == before.metadata
        assert {k: type(v) for k, v in after.metadata.items()} == {k: type(v) for k, v in before.metadata.items()}
        assert after.embedding is not None and before.embedding is not None
        assert after.embedding.dtype == np.float32
        assert after.embedding.tobytes() == before.embedding.tobytes()


def test_same_page_encodes_to_same_bytes() -> None:
    assert sha256_hex(encode_part(_chunks())) == sha256_hex(encode_part(_chunks()))
    assert decode_part(encode_part([])) == []
    one: Metadata = {"a": 1, "b": 2}
    two: Metadata = {"b": 2, "a": 1}
    vector = np.zeros(2, dtype=np.float32)
    assert encode_part([StoredChunk("x", "t", one, embedding=vector)]) == encode_part(
        [StoredChunk("x", "t", two, embedding=vector)]
    )


def test_damaged_part_is_rejected_with_its_name() -> None:
    data = encode_part(_chunks())
    with pytest.raises(BackupError, match="parts/x/000001"):
        decode_part(flip_byte(data, len(data) // 2), name="parts/x/000001")


def test_chunk_without_embedding_cannot_be_backed_up() -> None:
    with pytest.raises(BackupError, match="without its embedding"):
        encode_part([StoredChunk("a", "t", {"k": 1})])


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return request.getfixturevalue("s3_blobs")


def test_blob_store_contract(blobs: Any) -> None:
    assert blobs.list() == []
    assert not blobs.exists("a/b.bin")
    blobs.put("a/b.bin", b"1")
    blobs.put("a/c.bin", b"22")
    blobs.put("z.bin", b"")
    assert blobs.exists("a/b.bin")
    assert blobs.get("a/c.bin") == b"22"
    assert blobs.get("z.bin") == b""
    assert blobs.list() == ["a/b.bin", "a/c.bin", "z.bin"]
    assert blobs.list("a/") == ["a/b.bin", "a/c.bin"]
    scoped = ScopedBlobStore(blobs, "a")
    assert scoped.list() == ["b.bin", "c.bin"]
    assert scoped.get("b.bin") == b"1"
    blobs.delete("a/b.bin")
    blobs.delete("a/b.bin")
    assert not blobs.exists("a/b.bin")
    with pytest.raises(BackupError, match="does not exist"):
        blobs.get("a/b.bin")
    with pytest.raises(BackupError, match="invalid"):
        blobs.put("../escape", b"x")


def test_open_blob_store_parses_locations(tmp_path: Path, s3: Any) -> None:
    local = open_blob_store(str(tmp_path / "dest"))
    assert isinstance(local, LocalBlobStore)
    remote = open_blob_store(f"s3://{BUCKET}/backups/prod/", s3_client=s3)
    remote.put("k", b"v")
    assert s3.get_object(Bucket=BUCKET, Key="backups/prod/k")["Body"].read() == b"v"
    assert remote.url("k") == f"s3://{BUCKET}/backups/prod/k"
    with pytest.raises(BackupError):
        open_blob_store("s3:///nobucket", s3_client=s3)
