"""The one settings object.

Environment variable names are the deployment guide's (``APP_ENV``, ``CHROMA_HOST``, ...); the
guide's ``app.yaml`` shape is accepted as an optional file (``CONFIG_FILE``). Precedence: explicit
arguments > environment > ``app.yaml`` > defaults. Nothing else in the package reads the
environment: components receive the values they need as arguments.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from knowledgebeast.errors import ConfigurationError

#: app.yaml path (dotted) -> settings field. Only these keys are read from the file.
YAML_KEYS: dict[str, str] = {
    "server.env": "app_env",
    "server.log_level": "log_level",
    "server.workers": "workers",
    "server.host": "host",
    "server.port": "port",
    "server.allowed_hosts": "allowed_hosts",
    "server.cors_origins": "cors_origins",
    "database.chromadb.host": "chroma_host",
    "database.chromadb.port": "chroma_port",
    "database.chromadb.batch_size": "chroma_batch_size",
    "database.chromadb.tenant": "chroma_tenant",
    "database.chromadb.database": "chroma_database",
    "database.chromadb.data_dir": "data_dir",
    "database.chromadb.hnsw.m": "hnsw_m",
    "database.chromadb.hnsw.ef_construction": "hnsw_ef_construction",
    "database.chromadb.hnsw.ef_search": "hnsw_ef_search",
    "cache.redis.host": "redis_host",
    "cache.redis.port": "redis_port",
    "cache.redis.db": "redis_db",
    "cache.ttl": "cache_ttl",
    "cache.size": "query_cache_size",
    "chunking.strategy": "chunk_strategy",
    "chunking.size": "chunk_size",
    "chunking.overlap": "chunk_overlap",
    "chunking.max_size": "chunk_max_size",
    "embedding.model_dir": "embedding_model_dir",
    "embedding.variant": "embedding_variant",
    "embedding.batch_size": "embedding_batch_size",
    "reranking.model_dir": "rerank_model_dir",
    "reranking.top_n": "rerank_top_n",
    "observability.prometheus.enabled": "prometheus_enabled",
    "observability.prometheus.port": "prometheus_port",
    "observability.tracing.endpoint": "otel_exporter_otlp_endpoint",
    "observability.tracing.sample_rate": "otel_sample_rate",
}


def _find_repo_root() -> Path:
    """The checkout root when running from one (local defaults live there), else the cwd."""
    parents = Path(__file__).resolve().parents
    if len(parents) > 4 and (parents[4] / "pyproject.toml").is_file():
        return parents[4]
    return Path.cwd()


_REPO_ROOT = _find_repo_root()


def _default_model_dir() -> Path:
    lambda_layer = Path("/opt/models/all-MiniLM-L6-v2")
    if lambda_layer.exists():
        return lambda_layer
    return _REPO_ROOT / "build" / "models" / "all-MiniLM-L6-v2"


def _flatten_yaml(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif prefix in YAML_KEYS:
            out[YAML_KEYS[prefix]] = node

    walk("", raw)
    return out


class YamlFileSource(PydanticBaseSettingsSource):
    """Reads the guide's ``app.yaml`` (path from ``CONFIG_FILE``) and maps it onto flat fields."""

    def __init__(self, settings_cls: type[BaseSettings], path: str | None) -> None:
        super().__init__(settings_cls)
        self._values: dict[str, Any] = {}
        if path:
            import yaml

            file = Path(path)
            if not file.is_file():
                raise ConfigurationError(f"CONFIG_FILE {path!r} does not exist")
            self._values = _flatten_yaml(yaml.safe_load(file.read_text()) or {})

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    """Every tunable of KnowledgeBeast. Field names are the env var names, case-insensitive."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # server
    app_env: Literal["development", "staging", "production", "test"] = "development"
    log_level: str = "INFO"
    workers: int = Field(1, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr | None = None
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    config_file: str | None = None
    api_gateway_base_path: str = "/"
    """Custom-domain API mapping key (e.g. ``/kb``) that Mangum strips before routing."""

    # security
    api_key: SecretStr | None = None
    """Comma-separated API keys, each optionally ``key:collection1|collection2`` to restrict it."""
    api_keys_secret_arn: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    oidc_jwks_url: str | None = None
    """JWKS of an OIDC issuer (Cognito: ``https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json``)."""
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_scope_prefix: str = ""
    rate_limit_per_minute: int = Field(100, ge=0)
    secrets_max_age_seconds: int = Field(300, ge=0)
    """How long a secret read by ARN is reused before Secrets Manager is asked again (rotation delay)."""
    docs_public: bool = True
    metrics_public: bool | None = None
    """``/metrics`` without credentials. Unset: open in development/test, admin scope in
    staging/production (the API Gateway is public). ``true`` opens it everywhere; ``false`` closes it."""

    # vector store
    data_dir: Path = _REPO_ROOT / "data"
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_auth_token: SecretStr | None = None
    chroma_auth_token_secret_arn: str | None = None
    chroma_tenant: str = "default_tenant"
    """Tenant and database of a distributed or hosted Chroma (Chroma Cloud); the defaults are a
    single-node server's."""
    chroma_database: str = "default_database"
    chroma_api_key: SecretStr | None = None
    """Hosted Chroma's API key, sent as ``x-chroma-token`` (Chroma Cloud's header)."""
    chroma_api_key_secret_arn: str | None = None
    chroma_batch_size: int = Field(1000, ge=1)
    hnsw_m: int = Field(16, ge=2)
    hnsw_ef_construction: int = Field(200, ge=10)
    hnsw_ef_search: int = Field(100, ge=10)
    connection_pool_size: int = Field(10, ge=1)

    # AWS storage (set by the CDK stacks; unset in local mode)
    documents_bucket: str | None = None
    backup_bucket: str | None = None
    ingest_queue_url: str | None = None
    """SQS queue of S3 notifications read by ``knowledgebeast worker ingest`` (and fed by reconcile)."""
    # scheduled reconcile (functions/reconcile): which keys it compares, and how many repairs per run
    reconcile_prefix: str = ""
    reconcile_max_repairs: int = Field(500, ge=1)

    # cache
    redis_host: str | None = None
    redis_port: int = 6379
    redis_password: SecretStr | None = None
    redis_password_secret_arn: str | None = None
    redis_db: int = 0
    redis_ssl: bool = False
    redis_timeout_seconds: float = Field(0.25, gt=0)
    cache_ttl: int = Field(3600, ge=0)
    query_cache_size: int = Field(1000, ge=0)

    # query
    max_concurrent_queries: int = Field(16, ge=1)
    query_timeout: float = Field(30.0, gt=0)
    max_query_length: int = Field(2000, ge=1)
    max_top_k: int = Field(100, ge=1)
    max_filter_depth: int = Field(5, ge=1)
    candidate_depth: int = Field(300, ge=10)
    fusion_method: Literal["rrf", "blend"] = "blend"
    fusion_rrf_k: int = Field(60, ge=1)
    fusion_dense_weight: float = Field(1.0, ge=0)
    fusion_lexical_weight: float = Field(1.0, ge=0)

    # ingest
    chunk_strategy: Literal["semantic", "recursive", "fixed"] = "semantic"
    chunk_size: int = Field(512, ge=16)
    chunk_overlap: int = Field(50, ge=0)
    chunk_max_size: int = Field(2048, ge=16)
    chunk_max_tokens: int = Field(224, ge=16, le=254)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    max_pdf_pages: int = Field(2000, ge=1)
    max_document_chars: int = Field(20_000_000, ge=1)

    # models
    embedding_model_dir: Path = Field(default_factory=_default_model_dir)
    embedding_variant: Literal["fp32", "int8"] = "fp32"
    embedding_batch_size: int = Field(32, ge=1)
    #: ONNX Runtime intra-op threads; 0 = the CPUs this process may run on (Lambda: its vCPUs).
    embedding_threads: int = Field(0, ge=0)
    rerank_model_dir: Path | None = None
    rerank_top_n: int = Field(50, ge=1)

    # observability
    prometheus_enabled: bool = True
    prometheus_port: int | None = None
    prometheus_multiproc_dir: Path | None = None
    """Sample files of every worker when WORKERS > 1 (emptied at start; a temporary directory if unset)."""
    otel_exporter_otlp_endpoint: str | None = None
    otel_sample_rate: float = Field(0.0, ge=0, le=1)
    powertools_tracer_enabled: bool = False

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                import json

                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    @field_validator("chroma_host", "redis_host", "rerank_model_dir", "oidc_jwks_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
        if self.chunk_size > self.chunk_max_size:
            raise ValueError("CHUNK_SIZE must not exceed CHUNK_MAX_SIZE")
        if self.oidc_jwks_url and not self.oidc_issuer:
            raise ValueError("OIDC_JWKS_URL needs OIDC_ISSUER (tokens of any other issuer must be refused)")
        return self

    @property
    def embedded_store(self) -> bool:
        """True when no CHROMA_HOST is set: the store is a PersistentClient under ``data_dir``."""
        return self.chroma_host is None

    @property
    def auth_configured(self) -> bool:
        return bool(
            self.api_key or self.api_keys_secret_arn or self.jwt_secret or self.jwt_secret_arn or self.oidc_jwks_url
        )

    @property
    def metrics_open(self) -> bool:
        """Whether ``/metrics`` answers without credentials (secure by default outside development)."""
        if self.metrics_public is not None:
            return self.metrics_public
        return self.app_env in ("development", "test")

    def require_safe_for_environment(self) -> None:
        """Fail closed: only ``development`` and ``test`` may run without authentication."""
        if self.app_env in ("production", "staging") and not self.auth_configured:
            raise ConfigurationError(
                f"APP_ENV={self.app_env} requires authentication: set API_KEY, JWT_SECRET (or their "
                "*_SECRET_ARN) and/or OIDC_JWKS_URL. Refusing to start an open API."
            )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlFileSource(settings_cls, os.environ.get("CONFIG_FILE"))
        return (init_settings, env_settings, yaml_source)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once (Lambda containers and the CLI share this)."""
    return Settings()
