"""A process crash in the middle of an ingest, then a retry: exactly the new version is indexed.

The ingest runs in a real subprocess (real embedder, real Chroma over HTTP) and is SIGKILLed at a
precise point of the write sequence. The only instrumentation is a wrapper, installed by the
child script itself, that announces the point on stdout and then sleeps, giving the parent the
moment to kill it there. No product code knows about the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from knowledgebeast.cache.memory import MemoryCache
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.schemas import QueryRequest
from knowledgebeast.store.chroma import ChromaStore
from tests.conftest import MODEL_DIR

V1 = "\n\n".join(f"Legacy escalation rule {i}: call the duty manager by landline." for i in range(3))
V2 = "\n\n".join(
    f"## Section {i}\n\nModern escalation rule {i}: open an incident in the tracker and page the primary on-call. " * 3
    for i in range(10)
)

#: Where to stop the child: which call to wrap, and what has already been written when it stops.
CRASH_POINTS = {
    # new chunks upserted, old version's chunks not yet deleted, registry not committed
    "before_stale_delete": "store.delete_ids",
    # old chunks deleted too, registry still names the old version
    "before_registry_commit": "service.registry.put",
    # old chunks deleted, collection version (the cache key) not yet bumped, registry not committed
    # (the bump used to come after the commit: a crash between them left cached answers from the
    # old version being served after the retry, which found the commit done and did nothing)
    "before_version_bump": "service.bump_version",
    # everything committed; the process dies before answering (the retry must be a no-op)
    "after_registry_commit": "service.registry.put:after",
}

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from knowledgebeast.embedding.onnx_embedder import OnnxEmbedder
    from knowledgebeast.ingest import IngestService
    from knowledgebeast.store.chroma import ChromaStore

    port, model_dir, collection, target = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    target, _, when = target.partition(":")
    text = sys.stdin.read().encode()
    store = ChromaStore.http("127.0.0.1", port)
    embedder = OnnxEmbedder(Path(model_dir))
    service = IngestService(store, embedder, embedder.token_counter)
    owner_name, _, method = target.rpartition(".")
    owner = {"store": store, "service": service, "service.registry": service.registry}[owner_name]
    original = getattr(owner, method)

    def stall(*args, **kwargs):
        if when == "after":
            original(*args, **kwargs)
        print("CRASH-POINT", flush=True)
        time.sleep(120)  # the parent SIGKILLs us here
        return original(*args, **kwargs)

    setattr(owner, method, stall)
    service.ingest_bytes(text, collection=collection, source="escalation.md", filename="escalation.md")
    print("FINISHED", flush=True)
    """
)


def _run_until_crash_point(port: int, collection: str, target: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(port), str(MODEL_DIR), collection, target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(V2)
        child.stdin.close()
        line = child.stdout.readline()  # blocks until the child reaches the point (or dies)
        assert line.strip() == "CRASH-POINT", (line, child.stderr.read() if child.stderr else "")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _document_chunks(store: ChromaStore, collection: str, document_id: str) -> list[Any]:
    return store.get_where(collection, {"document_id": {"$eq": document_id}})


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_sigkill_mid_ingest_then_retry_leaves_exactly_the_new_version(
    point: str, chroma_server: Any, embedder: Any, collection_name: str
) -> None:
    store = ChromaStore.http("127.0.0.1", chroma_server.port)
    service = IngestService(store, embedder, embedder.token_counter)
    first = service.ingest_bytes(
        V1.encode(), collection=collection_name, source="escalation.md", filename="escalation.md"
    )
    v1_chunks = first.chunks
    # a reader with a cache answers (and caches) a question from version one before the crash
    reader = QueryService(store, embedder, MemoryCache(100))
    question = QueryRequest(query="how do I escalate", collection=collection_name, mode="lexical")
    assert "Legacy" in reader.query(question).results[0].text

    _run_until_crash_point(chroma_server.port, collection_name, CRASH_POINTS[point])
    during = _document_chunks(store, collection_name, first.document_id)
    if point == "after_registry_commit":
        assert all("Modern" in c.text for c in during)
    elif point == "before_stale_delete":
        assert len(during) > v1_chunks  # both versions are in the store at the moment of the crash
        assert any("Legacy" in c.text for c in during) and any("Modern" in c.text for c in during)
    else:
        assert not any("Legacy" in c.text for c in during)

    retried = service.ingest_bytes(
        V2.encode(), collection=collection_name, source="escalation.md", filename="escalation.md"
    )
    # before the commit the retry redoes everything; after it there is nothing left to do
    assert retried.outcome == ("unchanged" if point == "after_registry_commit" else "replaced")
    record = service.registry.get(first.document_id)
    assert record is not None and not record.deleted
    chunks = _document_chunks(store, collection_name, first.document_id)
    assert len(chunks) == record.chunk_count == retried.chunks > v1_chunks
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(c.metadata["content_hash"] == record.content_hash for c in chunks)
    assert not any("Legacy" in c.text for c in chunks)
    assert sorted(int(c.metadata["chunk_index"]) for c in chunks) == list(range(record.chunk_count))
    # and the cached answer from version one is never served again
    after = reader.query(question)
    assert "Modern" in after.results[0].text and not any("Legacy" in r.text for r in after.results)
