"""The composition root: the one place that turns Settings into concrete components.

Lambda handlers, the CLI and the local server all call :func:`build_services`; components never
read settings themselves, they receive values. Secrets given by ARN become
:class:`~knowledgebeast.secrets.SecretSource` objects that components read when they need the value
(re-read from Secrets Manager every SECRETS_MAX_AGE_SECONDS, so rotations need no redeploy).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from knowledgebeast.cache.base import CacheProtocol
from knowledgebeast.chunking import ChunkingConfig
from knowledgebeast.config import Settings
from knowledgebeast.embedding.base import EmbedderProtocol
from knowledgebeast.ingest import IngestOptions, IngestService
from knowledgebeast.parsing import ParseLimits
from knowledgebeast.query import QueryService, RetrievalConfig
from knowledgebeast.registry import DocumentRegistry
from knowledgebeast.rerank.base import RerankerProtocol
from knowledgebeast.secrets import SecretSource
from knowledgebeast.store.base import VectorStoreProtocol

if TYPE_CHECKING:
    import redis

    from knowledgebeast.security.auth import Authenticator
    from knowledgebeast.security.ratelimit import RateLimiter

logger = logging.getLogger(__name__)


def secret(settings: Settings, value: SecretStr | None, arn: str | None) -> SecretSource:
    """A secret from its settings pair (literal value, ARN), read through the rotation-aware cache."""
    return SecretSource.from_settings(value, arn, settings.secrets_max_age_seconds)


def build_authenticator(settings: Settings) -> Authenticator:
    from knowledgebeast.security.auth import Authenticator
    from knowledgebeast.security.oidc import OidcVerifier

    oidc = None
    if settings.oidc_jwks_url and settings.oidc_issuer:
        oidc = OidcVerifier(
            settings.oidc_jwks_url,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            scope_prefix=settings.oidc_scope_prefix,
        )
    return Authenticator(
        secret(settings, settings.api_key, settings.api_keys_secret_arn),
        jwt_secret=secret(settings, settings.jwt_secret, settings.jwt_secret_arn),
        jwt_issuer=settings.jwt_issuer,
        jwt_audience=settings.jwt_audience,
        oidc=oidc,
    )


def build_store(settings: Settings, cache: CacheProtocol | None = None) -> VectorStoreProtocol:
    from knowledgebeast.store.chroma import ChromaStore, HnswConfig

    hnsw = HnswConfig(
        m=settings.hnsw_m, ef_construction=settings.hnsw_ef_construction, ef_search=settings.hnsw_ef_search
    )
    shared = shared_store_tiers(cache, f"{settings.chroma_tenant}/{settings.chroma_database}")
    if settings.chroma_host is None:
        return ChromaStore.persistent(
            settings.data_dir / "chroma", hnsw=hnsw, batch_size=settings.chroma_batch_size, **shared
        )
    token = secret(settings, settings.chroma_auth_token, settings.chroma_auth_token_secret_arn)
    return ChromaStore.http(
        settings.chroma_host,
        settings.chroma_port,
        ssl=settings.chroma_ssl,
        auth_token=token,
        tenant=settings.chroma_tenant,
        database=settings.chroma_database,
        api_key=secret(settings, settings.chroma_api_key, settings.chroma_api_key_secret_arn).get(),
        hnsw=hnsw,
        batch_size=settings.chroma_batch_size,
        **shared,
    )


def build_redis(settings: Settings) -> redis.Redis | None:
    """The process's one Redis client (None without REDIS_HOST); cache and rate limiter share its pool."""
    if settings.redis_host is None:
        return None
    from knowledgebeast.redis_client import connect_redis

    return connect_redis(
        settings.redis_host,
        settings.redis_port,
        db=settings.redis_db,
        password=secret(settings, settings.redis_password, settings.redis_password_secret_arn),
        ssl=settings.redis_ssl,
        timeout=settings.redis_timeout_seconds,
        pool_size=settings.connection_pool_size,
    )


def shared_store_tiers(cache: CacheProtocol | None, namespace: str) -> dict[str, Any]:
    """With Redis, chunk records and collection versions are shared by every instance (see
    knowledgebeast.cache.records / .versions), keyed under the Chroma tenant/database so that two
    databases sharing one Redis never share a version; without Redis the store reads Chroma."""
    from knowledgebeast.cache.redis_cache import RedisCache

    if not isinstance(cache, RedisCache):
        return {}
    from knowledgebeast.cache.records import SharedRecords
    from knowledgebeast.cache.versions import SharedVersions

    return {
        "shared_records": SharedRecords(cache, namespace=namespace),
        "versions": SharedVersions(cache, namespace=namespace),
    }


def build_cache(settings: Settings, redis_client: redis.Redis | None) -> CacheProtocol | None:
    if settings.query_cache_size <= 0 or settings.cache_ttl <= 0:
        return None
    if redis_client is None:
        from knowledgebeast.cache.memory import MemoryCache

        return MemoryCache(settings.query_cache_size)
    from knowledgebeast.cache.redis_cache import RedisCache

    return RedisCache(redis_client)


def build_rate_limiter(settings: Settings, redis_client: redis.Redis | None) -> RateLimiter | None:
    from knowledgebeast.security.ratelimit import build_rate_limiter as make_limiter

    return make_limiter(settings.rate_limit_per_minute, redis_client)


def build_embedder(settings: Settings) -> EmbedderProtocol:
    from knowledgebeast.embedding.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(
        settings.embedding_model_dir,
        variant=settings.embedding_variant,
        batch_size=settings.embedding_batch_size,
        intra_op_threads=settings.embedding_threads or None,
    )


def build_reranker(settings: Settings) -> RerankerProtocol | None:
    if settings.rerank_model_dir is None:
        return None
    from knowledgebeast.rerank.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(settings.rerank_model_dir)


def retrieval_config(settings: Settings) -> RetrievalConfig:
    return RetrievalConfig(
        candidate_depth=settings.candidate_depth,
        fusion=settings.fusion_method,
        rrf_k=settings.fusion_rrf_k,
        dense_weight=settings.fusion_dense_weight,
        lexical_weight=settings.fusion_lexical_weight,
        rerank_top_n=settings.rerank_top_n,
        max_filter_depth=settings.max_filter_depth,
        cache_ttl=settings.cache_ttl,
    )


def ingest_options(settings: Settings) -> IngestOptions:
    return IngestOptions(
        strategy=settings.chunk_strategy,
        chunking=ChunkingConfig(
            size=settings.chunk_size,
            overlap=settings.chunk_overlap,
            max_size=settings.chunk_max_size,
            max_tokens=settings.chunk_max_tokens,
        ),
        limits=ParseLimits(
            max_bytes=settings.max_upload_bytes, max_pages=settings.max_pdf_pages, max_chars=settings.max_document_chars
        ),
    )


@dataclass
class Services:
    """Lazily built components of one process (a Lambda container, the CLI, the server)."""

    settings: Settings

    @cached_property
    def authenticator(self) -> Authenticator:
        return build_authenticator(self.settings)

    @cached_property
    def store(self) -> VectorStoreProtocol:
        return build_store(self.settings, self.cache)

    @cached_property
    def embedder(self) -> EmbedderProtocol:
        return build_embedder(self.settings)

    @cached_property
    def redis(self) -> redis.Redis | None:
        """Shared by every Redis user of this process (one connection pool); None without REDIS_HOST."""
        return build_redis(self.settings)

    @cached_property
    def cache(self) -> CacheProtocol | None:
        return build_cache(self.settings, self.redis)

    @cached_property
    def rate_limiter(self) -> RateLimiter | None:
        return build_rate_limiter(self.settings, self.redis)

    @cached_property
    def registry(self) -> DocumentRegistry:
        return DocumentRegistry(self.store)

    @cached_property
    def reranker(self) -> RerankerProtocol | None:
        return build_reranker(self.settings)

    @cached_property
    def query_service(self) -> QueryService:
        return QueryService(
            self.store, self.embedder, self.cache, self.reranker, config=retrieval_config(self.settings)
        )

    @cached_property
    def ingest_service(self) -> IngestService:
        counter = self.embedder.token_counter  # type: ignore[attr-defined]
        return IngestService(
            self.store, self.embedder, counter, options=ingest_options(self.settings), registry=self.registry
        )


def build_services(settings: Settings) -> Services:
    return Services(settings)
