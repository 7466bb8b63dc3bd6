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
    "profile",
    "egress",
    "vpc_id",
    "vpc_subnet_ids",
    "vpc_availability_zones",
    "vpc_route_table_ids",
    "nat_instance_type",
    "chroma_spot",
    "retain_on_delete",
    "ingest_max_concurrency",
    "backup_reserved_concurrency",
    "eks_operator_principal_arn",
    "eks_endpoint_cidrs",
    "eks_tls_certificate_arn",
    "eks_load_balancer_scheme",
    "eks_api_replicas",
    "eks_api_workers",
    "eks_ingest_workers",
)

#: How the private subnets reach AWS APIs (Secrets Manager, SQS, Logs, ECR). ``nat`` in an
#: existing VPC means "the subnets already route through a NAT (or have their own endpoints)".
EGRESS_CHOICES: tuple[str, ...] = ("endpoints", "nat", "nat_instance")

#: Values a profile sets unless the same key is given explicitly (``-c key=value`` wins).
#: ``dev`` idles under $60/month (see cdk/README.md for what it gives up).
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "production": {},
    "dev": {
        "max_azs": 1,
        "egress": "nat_instance",
        "chroma_cpu": 512,
        "chroma_memory_mib": 1024,
        "chroma_spot": True,
        "cache_node_type": "cache.t4g.micro",
        "cache_replicas": 0,
        "cache_snapshot_retention_days": 1,
        "retain_on_delete": False,
        "log_retention_days": 7,
    },
}


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
    #: 0 = no reservation (new accounts with a low concurrency quota refuse any reservation);
    #: the SQS event source's ``ingest_max_concurrency`` caps ingest either way.
    ingest_reserved_concurrency: int = 0
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
    profile: str = "production"
    egress: str = "endpoints"
    vpc_id: str | None = None
    vpc_subnet_ids: tuple[str, ...] = field(default_factory=tuple)
    vpc_availability_zones: tuple[str, ...] = field(default_factory=tuple)
    vpc_route_table_ids: tuple[str, ...] = field(default_factory=tuple)
    nat_instance_type: str = "t4g.nano"
    chroma_spot: bool = False
    retain_on_delete: bool = True
    ingest_max_concurrency: int = 2
    backup_reserved_concurrency: int = 0

    def __post_init__(self) -> None:
        if self.cache_engine not in ("valkey", "redis"):
            raise SettingsError(f"cache_engine must be 'valkey' or 'redis', got {self.cache_engine!r}")
        if not 1 <= self.max_azs <= 3:
            raise SettingsError("max_azs must be 1..3")
        if not 2 <= self.ingest_max_concurrency <= 1000:
            raise SettingsError("ingest_max_concurrency must be 2..1000 (SQS event source limits)")
        if self.ingest_reserved_concurrency < 0 or self.backup_reserved_concurrency < 0:
            raise SettingsError("reserved concurrency must be >= 0 (0 = no reservation)")
        if 0 < self.ingest_reserved_concurrency < self.ingest_max_concurrency:
            raise SettingsError(
                "ingest_reserved_concurrency must be 0 or >= ingest_max_concurrency: pollers beyond the "
                "reservation are throttled and burn receive counts toward the DLQ"
            )
        if not 1 <= self.ingest_batch_size <= 10:
            raise SettingsError("ingest_batch_size must be 1..10 (SQS batch without a batching window)")
        if not 30 <= self.ingest_timeout_seconds <= 900:
            raise SettingsError("ingest_timeout_seconds must be 30..900 (Lambda maximum is 15 min)")
        if self.cache_replicas < 0 or self.cache_replicas > 5:
            raise SettingsError("cache_replicas must be 0..5")
        if self.profile not in PROFILE_DEFAULTS:
            raise SettingsError(f"profile must be one of {sorted(PROFILE_DEFAULTS)}, got {self.profile!r}")
        if self.egress not in EGRESS_CHOICES:
            raise SettingsError(f"egress must be one of {list(EGRESS_CHOICES)}, got {self.egress!r}")
        self._check_existing_vpc()

    def _check_existing_vpc(self) -> None:
        """An existing VPC is described entirely by context: nothing is looked up at synth."""
        attributes = (self.vpc_subnet_ids, self.vpc_availability_zones, self.vpc_route_table_ids)
        if self.vpc_id is None:
            if any(attributes):
                raise SettingsError("vpc_subnet_ids/vpc_availability_zones/vpc_route_table_ids need vpc_id")
            return
        if not self.vpc_subnet_ids:
            raise SettingsError("vpc_id needs vpc_subnet_ids (the private subnets, one per AZ)")
        if len(self.vpc_availability_zones) != len(self.vpc_subnet_ids):
            raise SettingsError("vpc_availability_zones must name the AZ of each subnet in vpc_subnet_ids, in order")
        if len(set(self.vpc_availability_zones)) != len(self.vpc_availability_zones):
            raise SettingsError("give one subnet per AZ (EFS allows one mount target per AZ)")
        if self.egress == "nat_instance":
            raise SettingsError("egress=nat_instance creates its own VPC; with vpc_id use egress=nat or endpoints")
        if self.egress == "endpoints" and len(self.vpc_route_table_ids) != len(self.vpc_subnet_ids):
            raise SettingsError(
                "egress=endpoints in an existing VPC needs vpc_route_table_ids (one per subnet) for the S3 "
                "gateway endpoint; use egress=nat if the subnets already reach AWS APIs"
            )

    @property
    def new_vpc(self) -> bool:
        return self.vpc_id is None

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
        """Build from a context getter (``node.try_get_context``).

        Precedence: an explicit context value, then the profile's value, then the field default.
        """
        converters: dict[str, Callable[[str, Any], Any]] = {
            "bool": _as_bool,
            "int": _as_int,
            "float": _as_float,
            "tuple[str, ...]": _as_str_tuple,
            "str": lambda _key, value: str(value),
            "str | None": lambda _key, value: str(value) or None,
        }
        values: dict[str, Any] = {}
        profile = _profile_defaults(get)
        for item in fields(cls):
            if item.name not in CONTEXT_KEYS:
                continue
            raw = get(item.name)
            if raw is None:
                raw = profile.get(item.name)
            if raw is None:
                continue
            values[item.name] = converters[str(item.type)](item.name, raw)
        return cls(**values)

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> DeploymentSettings:
        return cls.from_context(context.get)


def _profile_defaults(get: Callable[[str], Any]) -> dict[str, Any]:
    """The chosen profile's values; the dev profile keeps an existing VPC's own egress (``nat``)."""
    name = str(get("profile") or "production")
    defaults = dict(PROFILE_DEFAULTS.get(name, {}))
    if get("vpc_id") and defaults.get("egress") == "nat_instance":
        defaults["egress"] = "nat"
    return defaults


#: Cloud Map namespace and service name: CHROMA_HOST is ``chroma.knowledgebeast.internal``.
SERVICE_DISCOVERY_NAMESPACE = "knowledgebeast.internal"
CHROMA_SERVICE_NAME = "chroma"
#: Custom metrics namespace and the backup service dimension (Powertools ``service``).
METRICS_NAMESPACE = "KnowledgeBeast"
BACKUP_SERVICE_NAME = "knowledgebeast-backup"
BACKUP_SUCCESS_METRIC = "BackupSuccess"
#: Where the models layer puts the embedding model (the layer folder holds ``models/...``).
EMBEDDING_MODEL_DIR = "/opt/models/all-MiniLM-L6-v2"
