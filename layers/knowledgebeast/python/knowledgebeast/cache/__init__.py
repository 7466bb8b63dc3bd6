"""Query result cache: in-process LRU+TTL locally, Redis when REDIS_HOST is set."""

from knowledgebeast.cache.base import CacheProtocol, query_cache_key
from knowledgebeast.cache.memory import MemoryCache

__all__ = ["CacheProtocol", "MemoryCache", "query_cache_key"]
