"""Deployment settings: the one place that reads CDK context.

Values come from ``cdk.json`` (``context``) or ``cdk ... -c key=value``. CLI values always arrive
as strings, so every reader converts explicitly and rejects what it cannot parse: a typo in a
context value must fail the synth, not silently fall back to a default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: Context keys this app understands (anything else in cdk.json is a CDK feature flag).
CONTEXT_KEYS: tuple[str, ...] = (
    "stack_prefix",
    "max_azs",
    "chroma_cpu",
    "chroma_memory_mib",
    "cache_engine",
    "cache_engine_version",
    "cache_node_type",
    "cache_replicas",
    "cache_snapshot_retention_days",
    "cache_snapshot_window",
    "cache_maintenance_window",
    "query_memory_mib",
    "ingest_memory_mib",
    "backup_memory_mib",
    "ingest_timeout_seconds",
    "ingest_batch_size",
    "ingest_reserved_concurrency",
    "api_throttle_rate",
    "api_throttle_burst",
    "cors_origins",
    "log_retention_days",
    "alarm_email",
    "api_5xx_rate_percent",
    "query_p95_ms",
    "eks",
    "eks_api_image",
    "eks_operator_principal_arn",
    "eks_endpoint_cidrs",
    "eks_tls_certificate_arn",
    "eks_load_balancer_scheme",
    "eks_api_replicas",
    "eks_api_workers",
    "eks_ingest_workers",
)


class SettingsError(ValueError):
    """A context value is missing its expected type or range."""


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise SettingsError(f"context {key!r} must be a boolean, got {value!r}")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"context {key!r} must be an integer, got {value!r}")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"context {key!r} must be an integer, got {value!r}") from exc


def _as_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"context {key!r} must be a number, got {value!r}") from exc


def _as_str_tuple(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            value = json.loads(stripped)
        else:
            return tuple(item.strip() for item in stripped.split(",") if item.strip())
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise SettingsError(f"context {key!r} must be a list of strings, got {value!r}")


@dataclass(frozen=True)
class DeploymentSettings:
    """Every tunable of the AWS deployment, with production defaults."""

    stack_prefix: str = "KnowledgeBeast"
    max_azs: int = 2
    chroma_port: int = 8000
    chroma_cpu: int = 1024
    chroma_memory_mib: int = 2048
    redis_port: int = 6379
    cache_engine: str = "valkey"
    cache_engine_version: str = "8.0"
    cache_node_type: str = "cache.t4g.small"
    cache_replicas: int = 1
    cache_snapshot_retention_days: int = 7
    cache_snapshot_window: str = "03:00-04:00"
    cache_maintenance_window: str = "sun:05:00-sun:06:00"
    query_memory_mib: int = 2048
    ingest_memory_mib: int = 3008
    backup_memory_mib: int = 1024
    ingest_timeout_seconds: int = 300
    ingest_batch_size: int = 5
    ingest_reserved_concurrency: int = 2
    api_throttle_rate: float = 50.0
    api_throttle_burst: int = 100
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    log_retention_days: int = 30
    alarm_email: str | None = None
    api_5xx_rate_percent: float = 5.0
    query_p95_ms: float = 500.0
    eks: bool = False
    eks_api_image: str = ""
    """Empty: build containers/api/Dockerfile as a CDK image asset; else an image URI to run."""
    eks_operator_principal_arn: str | None = None
    """IAM role/user given cluster-admin through an EKS access entry (kubectl for an operator)."""
    eks_endpoint_cidrs: tuple[str, ...] = ()
    """Empty: private API endpoint only; else also public, reachable from these CIDRs only."""
    eks_tls_certificate_arn: str | None = None
    eks_load_balancer_scheme: str = "internet-facing"
    eks_api_replicas: int = 2
    eks_api_workers: int = 2
    eks_ingest_workers: int = 1

    def __post_init__(self) -> None:
        if self.cache_engine not in ("valkey", "redis"):
            raise SettingsError(f"cache_engine must be 'valkey' or 'redis', got {self.cache_engine!r}")
        if not 1 <= self.max_azs <= 3:
            raise SettingsError("max_azs must be 1..3")
        if self.ingest_reserved_concurrency < 1:
            raise SettingsError("ingest_reserved_concurrency must be >= 1 (0 would disable ingestion)")
        if not 1 <= self.ingest_batch_size <= 10:
            raise SettingsError("ingest_batch_size must be 1..10 (SQS batch without a batching window)")
        if not 30 <= self.ingest_timeout_seconds <= 900:
            raise SettingsError("ingest_timeout_seconds must be 30..900 (Lambda maximum is 15 min)")
        if self.cache_replicas < 0 or self.cache_replicas > 5:
            raise SettingsError("cache_replicas must be 0..5")

    @property
    def ingest_queue_visibility_seconds(self) -> int:
        """AWS guidance: at least 6x the consumer timeout, so retries never overlap a live run."""
        return 6 * self.ingest_timeout_seconds

    @property
    def chroma_host(self) -> str:
        """The Cloud Map name every Lambda uses (``<service>.<namespace>``)."""
        return f"{CHROMA_SERVICE_NAME}.{SERVICE_DISCOVERY_NAMESPACE}"

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> DeploymentSettings:
        """Build from a context getter (``node.try_get_context``); unset keys keep defaults."""
        converters: dict[str, Callable[[str, Any], Any]] = {
            "bool": _as_bool,
            "int": _as_int,
            "float": _as_float,
            "tuple[str, ...]": _as_str_tuple,
            "str": lambda _key, value: str(value),
            "str | None": lambda _key, value: str(value) or None,
        }
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name not in CONTEXT_KEYS:
                continue
            raw = get(item.name)
            if raw is None:
                continue
            values[item.name] = converters[str(item.type)](item.name, raw)
        return cls(**values)

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> DeploymentSettings:
        return cls.from_context(context.get)


#: Cloud Map namespace and service name: CHROMA_HOST is ``chroma.knowledgebeast.internal``.
SERVICE_DISCOVERY_NAMESPACE = "knowledgebeast.internal"
CHROMA_SERVICE_NAME = "chroma"
#: Custom metrics namespace and the backup service dimension (Powertools ``service``).
METRICS_NAMESPACE = "KnowledgeBeast"
BACKUP_SERVICE_NAME = "knowledgebeast-backup"
BACKUP_SUCCESS_METRIC = "BackupSuccess"
#: Where the models layer puts the embedding model (the layer folder holds ``models/...``).
EMBEDDING_MODEL_DIR = "/opt/models/all-MiniLM-L6-v2"
