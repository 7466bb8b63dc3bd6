"""The Chroma adapter: embedded ``PersistentClient`` locally, ``HttpClient`` against a server.

Guarantees: collections use cosine space and the configured HNSW parameters; Chroma never embeds
text itself (every write and query carries vectors); writes are batched under the server's max
batch size; engine errors become KnowledgeBeast errors (missing collection -> 404, unreachable
server -> 503) so callers never see a Chroma exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from knowledgebeast.errors import (
    BadRequestError,
    CollectionNotFoundError,
    InvalidFilterError,
    StoreUnavailableError,
    ValidationError,
)
from knowledgebeast.secrets import SecretSource
from knowledgebeast.store.base import VERSION_KEY, ChunkPage, CollectionInfo, Metadata, StoredChunk, Where
from knowledgebeast.store.record_cache import RecordCache

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from knowledgebeast.cache.records import SharedRecords
    from knowledgebeast.cache.versions import SharedVersions

T = TypeVar("T")


@dataclass(frozen=True)
class HnswConfig:
    m: int = 16
    ef_construction: int = 200
    ef_search: int = 100


def _is_connection_error(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names
        & {
            "ConnectError",
            "ConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
            "RemoteProtocolError",
            "ConnectionRefusedError",
            "TimeoutException",
            "NetworkError",
        }
    )


@contextmanager
def _translate_errors(collection: str | None = None) -> Iterator[None]:
    """Map Chroma/httpx exceptions onto KnowledgeBeast errors."""
    try:
        yield
    except (CollectionNotFoundError, StoreUnavailableError, BadRequestError, ValidationError):
        raise
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc):
            raise CollectionNotFoundError(
                f"collection {collection!r} does not exist", details={"collection": collection}
            ) from exc
        if _is_connection_error(exc) or "Could not connect" in str(exc):
            raise StoreUnavailableError("vector store is unreachable") from exc
        if isinstance(exc, ValueError) and "where" in str(exc).lower():
            raise InvalidFilterError(str(exc)) from exc
        raise


def _scalars(metadata: Any) -> Metadata:
    """Chroma's metadata type admits lists and sparse vectors; KnowledgeBeast writes scalars only."""
    return {k: v for k, v in (metadata or {}).items() if isinstance(v, str | int | float | bool)}


class ChromaStore:
    """Implements :class:`~knowledgebeast.store.base.VectorStoreProtocol` over a Chroma client."""

    def __init__(
        self,
        client: ClientAPI,
        *,
        hnsw: HnswConfig | None = None,
        batch_size: int = 1000,
        record_cache_size: int = 20_000,
        reconnect: Callable[[], ClientAPI | None] | None = None,
        shared_records: SharedRecords | None = None,
        versions: SharedVersions | None = None,
    ) -> None:
        self._current = client
        self._reconnect = reconnect
        self._records = RecordCache(record_cache_size)
        self._shared_records = shared_records
        self._versions = versions
        self._hnsw = hnsw or HnswConfig()
        with _translate_errors():
            server_max = int(client.get_max_batch_size())
        self._batch_size = max(1, min(batch_size, server_max))
        self._collections: dict[str, Collection] = {}

    @classmethod
    def persistent(cls, path: Path, **kwargs: Any) -> ChromaStore:
        """Embedded store under ``path`` (local mode, tests)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        return cls(client, **kwargs)

    @classmethod
    def http(
        cls,
        host: str,
        port: int,
        *,
        ssl: bool = False,
        auth_token: str | SecretSource | None = None,
        tenant: str | None = None,
        database: str | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> ChromaStore:
        """Client of a Chroma server; the token is sent as a Bearer header for the auth proxy.

        ``tenant``/``database``/``api_key`` address a distributed or hosted Chroma (Chroma Cloud:
        ``api_key`` goes in its ``x-chroma-token`` header); unset means the server's defaults.
        Chroma's client fixes its headers when it is made, so a rotated token (read through the
        secret's TTL cache before each operation) makes a new client, and later calls use it.
        """
        import chromadb
        from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT
        from chromadb.config import Settings as ChromaSettings

        source = auth_token if isinstance(auth_token, SecretSource) else SecretSource(literal=auth_token or None)

        def connect(token: str | None) -> ClientAPI:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if api_key:
                headers["x-chroma-token"] = api_key
            with _translate_errors():
                return chromadb.HttpClient(
                    host=host,
                    port=port,
                    ssl=ssl,
                    headers=headers or None,
                    settings=ChromaSettings(anonymized_telemetry=False),
                    tenant=tenant or DEFAULT_TENANT,
                    database=database or DEFAULT_DATABASE,
                )

        token = source.get()

        def reconnect() -> ClientAPI | None:
            nonlocal token
            current = source.get()
            if current == token:
                return None
            token = current
            return connect(current)

        return cls(connect(token), reconnect=reconnect if source.arn else None, **kwargs)

    @property
    def _client(self) -> ClientAPI:
        """The client, remade first when its credentials were rotated (cached handles dropped with it)."""
        if self._reconnect is not None:
            fresh = self._reconnect()
            if fresh is not None:
                self._current = fresh
                self._collections.clear()
        return self._current

    # collections -------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        with _translate_errors():
            self._client.heartbeat()

    def _collection(self, name: str, *, refresh: bool = False) -> Collection:
        client = self._client  # first: a rotated token drops the cached handles
        if refresh or name not in self._collections:
            with _translate_errors(name):
                self._collections[name] = client.get_collection(name, embedding_function=None)
        return self._collections[name]

    def _call(self, name: str, action: Callable[[Collection], T]) -> T:
        """Run ``action`` on a cached collection handle, refreshing it once if it went stale
        (collection deleted and re-created by another process)."""
        try:
            with _translate_errors(name):
                return action(self._collection(name))
        except CollectionNotFoundError:
            self._collections.pop(name, None)
            with _translate_errors(name):
                return action(self._collection(name, refresh=True))

    def list_collections(self) -> list[CollectionInfo]:
        with _translate_errors():
            collections = self._client.list_collections()
            return [CollectionInfo(c.name, c.count(), dict(c.metadata or {})) for c in collections]

    def collection_info(self, name: str) -> CollectionInfo:
        """Fresh metadata (one round trip): the cache relies on it to see other writers' versions."""
        collection = self._collection(name, refresh=True)
        with _translate_errors(name):
            return CollectionInfo(collection.name, collection.count(), dict(collection.metadata or {}))

    def collection_metadata(self, name: str) -> Metadata:
        return dict(self._collection(name, refresh=True).metadata or {})

    def _read_version(self, name: str) -> str:
        return str(self.collection_metadata(name).get(VERSION_KEY, "0"))

    def collection_version(self, name: str) -> str:
        """The write version the query cache keys on: from the shared Redis tier when configured
        (knowledgebeast.cache.versions proves it is never older than an acknowledged write), else
        from Chroma (one round trip, which also raises for a missing collection)."""
        if self._versions is None:
            return self._read_version(name)
        return self._versions.current(name, lambda: self._read_version(name))

    @contextmanager
    def _changing(self, name: str) -> Iterator[None]:
        if self._versions is None:
            yield
            return
        with self._versions.writing(name, lambda: self._read_version(name)):
            yield

    def ensure_collection(self, name: str, metadata: Metadata | None = None) -> None:
        configuration: Any = {
            "hnsw": {
                "space": "cosine",
                "ef_construction": self._hnsw.ef_construction,
                "ef_search": self._hnsw.ef_search,
                "max_neighbors": self._hnsw.m,
            }
        }
        with _translate_errors(name):
            self._collections[name] = self._client.get_or_create_collection(
                name, configuration=configuration, metadata=metadata or None, embedding_function=None
            )

    def delete_collection(self, name: str) -> None:
        with self._changing(name), _translate_errors(name):
            self._client.delete_collection(name)
        self._collections.pop(name, None)

    def set_collection_metadata(self, name: str, metadata: Metadata) -> None:
        """Merge ``metadata`` into the collection's metadata."""

        def merge(collection: Collection) -> None:
            current = dict(collection.metadata or {})
            current.update(metadata)
            collection.modify(metadata=current)

        with self._changing(name):
            self._call(name, merge)
        self._collections.pop(name, None)

    # chunks ------------------------------------------------------------------------------------
    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        if not (len(ids) == len(embeddings) == len(texts) == len(metadatas)):
            raise ValueError("ids, embeddings, texts and metadatas must have the same length")
        for start in range(0, len(ids), self._batch_size):
            stop = start + self._batch_size
            batch_ids = list(ids[start:stop])
            batch_vectors = np.asarray(embeddings[start:stop], dtype=np.float32)
            batch_texts = list(texts[start:stop])
            batch_meta: Any = [dict(m) for m in metadatas[start:stop]]

            def write(
                c: Collection, i: Any = batch_ids, v: Any = batch_vectors, t: Any = batch_texts, m: Any = batch_meta
            ) -> None:
                c.upsert(ids=i, embeddings=v, documents=t, metadatas=m)

            self._call(collection, write)
            if self._shared_records is not None:  # write-through: queries on any instance find them warm
                records = {i: (t, _scalars(m)) for i, t, m in zip(batch_ids, batch_texts, batch_meta, strict=True)}
                self._shared_records.put_many(collection, records)

    def delete_where(self, collection: str, where: Where) -> int:
        ids = [chunk.id for chunk in self.get_where(collection, where, include_text=False)]
        self.delete_ids(collection, ids)
        return len(ids)

    def delete_ids(self, collection: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self._batch_size):
            batch = list(ids[start : start + self._batch_size])

            def remove(c: Collection, b: list[str] = batch) -> None:
                c.delete(ids=b)

            self._call(collection, remove)

    def get_where(
        self, collection: str, where: Where, *, limit: int | None = None, include_text: bool = True
    ) -> list[StoredChunk]:
        include: Any = ["metadatas", "documents"] if include_text else ["metadatas"]
        result = self._call(collection, lambda c: c.get(where=dict(where), limit=limit, include=include))
        documents = result.get("documents") or [""] * len(result["ids"])
        metadatas = result.get("metadatas") or [{}] * len(result["ids"])
        return [
            StoredChunk(id=i, text=d or "", metadata=_scalars(m))
            for i, d, m in zip(result["ids"], documents, metadatas, strict=True)
        ]

    def search(
        self, collection: str, embedding: np.ndarray, *, limit: int, where: Where | None = None
    ) -> list[StoredChunk]:
        vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        include: Any = ["distances"]
        result = self._call(
            collection,
            lambda c: c.query(
                query_embeddings=vector, n_results=limit, where=dict(where) if where else None, include=include
            ),
        )
        ids = list(result["ids"][0])
        distances = (result.get("distances") or [[]])[0]
        records = self._load_records(collection, ids)
        return [
            StoredChunk(id=i, text=records[i][0], metadata=records[i][1], distance=float(dist))
            for i, dist in zip(ids, distances, strict=True)
            if i in records  # a chunk deleted between the two calls is simply not returned
        ]

    def _load_records(self, collection: str, ids: list[str]) -> dict[str, tuple[str, Metadata]]:
        """Records by id: this process's LRU, then Redis (shared by every instance), then Chroma."""
        records = self._records.get_many(collection, ids)
        missing = [i for i in ids if i not in records]
        if missing and self._shared_records is not None:
            shared = self._shared_records.get_many(collection, missing)
            if shared:
                self._records.put_many(collection, shared)
                records.update(shared)
                missing = [i for i in missing if i not in shared]
        if missing:
            fetched = self._call(
                collection, lambda c: c.get(ids=missing, include=cast(Any, ["documents", "metadatas"]))
            )
            loaded = {
                i: (d or "", _scalars(m))
                for i, d, m in zip(
                    fetched["ids"], fetched.get("documents") or [], fetched.get("metadatas") or [], strict=True
                )
            }
            self._records.put_many(collection, loaded)
            if self._shared_records is not None:
                self._shared_records.put_many(collection, loaded)
            records.update(loaded)
        return records

    def get_containing(
        self, collection: str, words: Sequence[str], *, where: Where | None = None, limit: int = 50
    ) -> list[StoredChunk]:
        """Chunks whose text contains any of ``words`` (Chroma's full-text index)."""
        if not words:
            return []
        clauses: list[Any] = [{"$contains": w} for w in words]
        where_document: Any = clauses[0] if len(clauses) == 1 else {"$or": clauses}
        include: Any = ["documents", "metadatas"]
        result = self._call(
            collection,
            lambda c: c.get(
                where=dict(where) if where else None, where_document=where_document, limit=limit, include=include
            ),
        )
        return [
            StoredChunk(id=i, text=d or "", metadata=_scalars(m))
            for i, d, m in zip(result["ids"], result.get("documents") or [], result.get("metadatas") or [], strict=True)
        ]

    def export_page(self, collection: str, *, offset: int, limit: int) -> ChunkPage:
        include: Any = ["documents", "metadatas", "embeddings"]
        result = self._call(collection, lambda c: c.get(offset=offset, limit=limit, include=include))
        embeddings = result.get("embeddings")
        chunks = [
            StoredChunk(
                id=i,
                text=d or "",
                metadata=_scalars(m),
                embedding=np.asarray(embeddings[n], dtype=np.float32) if embeddings is not None else None,
            )
            for n, (i, d, m) in enumerate(
                zip(result["ids"], result.get("documents") or [], result.get("metadatas") or [], strict=True)
            )
        ]
        next_offset = offset + len(chunks) if len(chunks) == limit else None
        return ChunkPage(chunks=chunks, next_offset=next_offset)
