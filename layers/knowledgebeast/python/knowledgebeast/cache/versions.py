"""Collection write versions shared through Redis, with Chroma as the source of truth.

Why: the query cache key holds the collection's write version, and reading it from Chroma costs
one HTTP round trip on every query, cache hits included. Every Lambda instance shares one Redis,
so the version is read there (~0.15 ms) and Chroma is asked only when Redis has no usable value.

The guarantee: once a write has been acknowledged, no query answers from a cache entry computed
before it. The protocol that makes it hold through concurrent readers and writers, Redis restarts
and evictions (tests/cache/test_shared_versions.py replays each interleaving):

* A Redis value is either a *version* (copied from Chroma) or a *token* (``~`` prefix): a token
  means "do not trust Redis, ask Chroma". Tokens are unique and carry a TTL, versions none.
* Readers: a version in Redis is used as is. On a missing key a reader claims it (``SET NX`` of a
  fresh token), reads Chroma and replaces *its own* token by what it read (compare-and-set in one
  Lua call). A token it did not write means: ask Chroma, write nothing.
* Writers (every collection metadata change and collection delete goes through
  :meth:`SharedVersions.writing`): before the change they overwrite the key with a fresh token,
  after it with another one, then read Chroma and compare-and-set their token to what they read.
  Either token write failing raises :class:`StoreUnavailableError`: the write is not acknowledged
  (SQS or the client retries it), because a writer that cannot reach Redis cannot invalidate it.

Why that suffices: after a writer's second token write, every value Redis can hold was read from
Chroma *after* that token write (a compare-and-set only succeeds on the token its author wrote,
and any later token write, eviction or restart makes it fail), hence after the write's change. A
version read after the change is the write's own version or a later one, and answers cached
under such a version were computed after the change. Eviction or a restart only turns a key into
"missing", which sends readers to Chroma. The chunk data itself is written before the version
bump (knowledgebeast.ingest), so "after the change" includes the data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from knowledgebeast.errors import CollectionNotFoundError, StoreUnavailableError

if TYPE_CHECKING:
    from knowledgebeast.cache.redis_cache import RedisCache

logger = logging.getLogger(__name__)

PREFIX = "kb:v:"
TOKEN = "~"
#: A reader's claim lives this long if the reader dies before filling it (then readers ask Chroma).
CLAIM_TTL_MS = 10_000
#: A writer's token outlives any write; if it expires early it is as if evicted (safe, see above).
WRITER_TTL_MS = 60_000

#: Replace ARGV[1] (the caller's own token) by ARGV[2]; anything else in the key wins.
_SWAP = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0"


def _token(kind: str) -> str:
    return f"{TOKEN}{kind}:{uuid.uuid4().hex}"


class SharedVersions:
    """Collection versions through Redis (see the module docstring for the protocol)."""

    def __init__(self, cache: RedisCache, *, namespace: str = "") -> None:
        self._cache = cache
        self._prefix = f"{PREFIX}{namespace}:" if namespace else PREFIX
        self._swap: Any = None

    def key(self, collection: str) -> str:
        return self._prefix + collection

    def _compare_and_set(self, client: Any, key: str, token: str, value: str) -> bool:
        if self._swap is None:
            self._swap = client.register_script(_SWAP)
        return bool(self._swap(keys=[key], args=[token, value], client=client))

    def current(self, collection: str, read_truth: Callable[[], str]) -> str:
        """The collection's version: from Redis when it holds one, else from ``read_truth`` (Chroma)."""
        key = self.key(collection)
        raw = self._cache.guarded(lambda c: c.get(key), None)
        if raw is not None:
            value = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not value.startswith(TOKEN):
                return value
            return read_truth()  # someone else's token: ask Chroma, write nothing
        token = _token("read")
        claimed = self._cache.guarded(lambda c: bool(c.set(key, token, nx=True, px=CLAIM_TTL_MS)), False)
        truth = read_truth()  # a missing collection raises here; the claim simply expires
        if claimed:
            self._cache.guarded(lambda c: self._compare_and_set(c, key, token, truth), False)
        return truth

    @contextmanager
    def writing(self, collection: str, read_truth: Callable[[], str]) -> Iterator[None]:
        """Wrap a change of the collection's version or existence (bump, delete, restore)."""
        key = self.key(collection)
        self._write_token(key, _token("write"))  # before: nothing read earlier may be filled in later
        yield
        token = _token("write")
        self._write_token(key, token)  # after: every later value is read from Chroma after the change
        try:
            truth = read_truth()
        except CollectionNotFoundError:
            return  # deleted: the token stays until it expires, then readers ask Chroma (404)
        self._cache.guarded(lambda c: self._compare_and_set(c, key, token, truth), False)

    def _write_token(self, key: str, token: str) -> None:
        """Unconditional, and not skipped by an open breaker: the write depends on it."""
        try:
            self._cache.client.set(key, token, px=WRITER_TTL_MS)
        except Exception as exc:
            logger.warning("redis unreachable: collection write not acknowledged", extra={"error": type(exc).__name__})
            raise StoreUnavailableError(
                "the shared cache could not be invalidated; the write was not acknowledged, retry it"
            ) from exc
