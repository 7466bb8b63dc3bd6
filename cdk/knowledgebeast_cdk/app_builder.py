"""Builds the whole CDK app; shared by ``cdk/app.py`` and the tests so both synthesize the same thing.

Stack order (each depends only on earlier ones, so there are no cycles):
Network -> Storage -> VectorStore, Cache -> Api -> Observability -> Backup [-> Eks, independent].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Duration, RemovalPolicies, Stack, Tags, Validations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from knowledgebeast_cdk.api import ComputeStack, SecretRefs
from knowledgebeast_cdk.assets import AssetPaths
from knowledgebeast_cdk.backup import BackupStack, backup_success_metric
from knowledgebeast_cdk.cache import CacheStack
from knowledgebeast_cdk.fargate_spot import run_on_fargate_spot
from knowledgebeast_cdk.nag_suppressions import acknowledge_findings
from knowledgebeast_cdk.network import ExistingVpcIds, NetworkStack
from knowledgebeast_cdk.observability import ObservabilityStack
from knowledgebeast_cdk.reconcile import ReconcileInputs, ReconcileStack
from knowledgebeast_cdk.settings import (
    CHROMA_SERVICE_NAME,
    SERVICE_DISCOVERY_NAMESPACE,
    DeploymentSettings,
    SettingsError,
)
from knowledgebeast_cdk.storage import StorageStack
from knowledgebeast_cdk.vector_store import VectorStoreStack

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = REPO_ROOT / "cdk.json"


@dataclass(frozen=True)
class KnowledgeBeastStacks:
    """Handles on every stack, for tests and for callers that add to the app."""

    network: NetworkStack
    storage: StorageStack
    vector_store: VectorStoreStack
    cache: CacheStack
    api: ComputeStack
    observability: ObservabilityStack
    backup: BackupStack
    eks: Stack | None
    reconcile: ReconcileStack | None = None

    def all(self) -> list[Stack]:
        stacks: list[Stack] = [
            self.network,
            self.storage,
            self.vector_store,
            self.cache,
            self.api,
            self.observability,
            self.backup,
        ]
        stacks += [self.reconcile] if self.reconcile else []
        return [*stacks, self.eks] if self.eks else stacks

    def by_role(self) -> dict[str, Stack]:
        """Stacks keyed by role ("Network", "Storage", ...), independent of the name prefix."""
        roles = {
            "Network": self.network,
            "Storage": self.storage,
            "VectorStore": self.vector_store,
            "Cache": self.cache,
            "Api": self.api,
            "Observability": self.observability,
            "Backup": self.backup,
        }
        roles.update({"Reconcile": self.reconcile} if self.reconcile else {})
        return {**roles, "Eks": self.eks} if self.eks else roles


def load_cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json: ``python cdk/app.py`` would otherwise ignore it."""
    if not path.is_file():
        return {}
    context = json.loads(path.read_text()).get("context", {})
    if not isinstance(context, dict):
        raise SettingsError(f"{path}: 'context' must be an object")
    return context


#: CloudWatch Logs only accepts these retention periods (days).
RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """Map a number of days onto one of CloudWatch's fixed retention choices."""
    if days not in RETENTION_BY_DAYS:
        raise SettingsError(f"log_retention_days must be one of {sorted(RETENTION_BY_DAYS)}, got {days}")
    return RETENTION_BY_DAYS[days]


def build_app(
    *,
    asset_root: Path | None = None,
    assets: AssetPaths | None = None,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    cfn_validation: bool = True,
    nag: bool = True,
) -> tuple[App, KnowledgeBeastStacks]:
    """Create the app and its stacks.

    ``context`` overrides cdk.json (the CDK CLI's own ``-c`` values override both). ``assets``
    overrides the folder layout derived from ``asset_root`` (default: this repository). The
    asset folders are checked before any construct is created, so a missing ``make layers``
    fails in a second with instructions instead of halfway through a deploy.
    """
    merged = {**load_cdk_json_context(), **(context or {})}
    app = App(context=merged, outdir=outdir, builtin_cloud_formation_validation=cfn_validation)
    settings = DeploymentSettings.from_context(app.node.try_get_context)
    if assets is None:
        assets = AssetPaths.for_repo(
            asset_root or REPO_ROOT,
            deps_layer=app.node.try_get_context("deps_layer_dir"),
            models_layer=app.node.try_get_context("models_layer_dir"),
        )
    assets.require_present()
    assets.require_layer_layout()
    assets.require_within_lambda_limit()

    stacks = _build_stacks(app, settings, assets)
    if not settings.retain_on_delete:
        # Every stack, including ones added later: nothing survives `cdk destroy`.
        RemovalPolicies.of(app).destroy()
    Tags.of(app).add("project", "knowledgebeast")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge_findings(stacks.by_role())
    return app, stacks


def _existing_vpc(settings: DeploymentSettings) -> ExistingVpcIds | None:
    if settings.vpc_id is None:
        return None
    return ExistingVpcIds(
        vpc_id=settings.vpc_id,
        subnet_ids=settings.vpc_subnet_ids,
        availability_zones=settings.vpc_availability_zones,
        route_table_ids=settings.vpc_route_table_ids,
    )


def grant_access(compute: ComputeStack, *, documents: s3.IBucket, backups: s3.IBucket, secrets: SecretRefs) -> None:
    """Every IAM grant of the functions, in one place: least privilege is readable at a glance."""
    # The API indexes uploads itself (no S3 write); reading lets it serve stored originals.
    documents.grant_read(compute.query_function)
    documents.grant_read(compute.ingest_function)
    backups.grant_read_write(compute.backup_function)
    for fn in (compute.query_function, compute.ingest_function, compute.backup_function):
        secrets.chroma_auth_token.grant_read(fn)
    for fn in (compute.query_function, compute.ingest_function):
        secrets.redis_auth_token.grant_read(fn)
    secrets.api_keys.grant_read(compute.query_function)
    secrets.jwt_secret.grant_read(compute.query_function)


def _build_stacks(app: App, settings: DeploymentSettings, assets: AssetPaths) -> KnowledgeBeastStacks:
    prefix = settings.stack_prefix
    log_retention = retention(settings.log_retention_days)

    network = NetworkStack(
        app,
        f"{prefix}-Network",
        description="KnowledgeBeast: VPC, endpoints, security groups",
        max_azs=settings.max_azs,
        chroma_port=settings.chroma_port,
        redis_port=settings.redis_port,
        log_retention=log_retention,
        egress=settings.egress,
        nat_instance_type=settings.nat_instance_type,
        existing=_existing_vpc(settings),
    )
    groups = network.security_groups
    storage = StorageStack(
        app,
        f"{prefix}-Storage",
        description="KnowledgeBeast: documents, backups, ingest queue, secrets (retained)",
        ingest_visibility_timeout=Duration.seconds(settings.ingest_queue_visibility_seconds),
        retain_on_delete=settings.retain_on_delete,
    )
    secrets = storage.secrets
    vector_store = VectorStoreStack(
        app,
        f"{prefix}-VectorStore",
        description="KnowledgeBeast: ChromaDB on ECS Fargate with EFS",
        vpc=network.vpc,
        subnets=network.private_subnets,
        chroma_security_group=groups.chroma,
        efs_security_group=groups.efs,
        auth_token=secrets.chroma_auth_token,
        image_directory=assets.chroma_image,
        namespace_name=SERVICE_DISCOVERY_NAMESPACE,
        service_name=CHROMA_SERVICE_NAME,
        port=settings.chroma_port,
        cpu=settings.chroma_cpu,
        memory_mib=settings.chroma_memory_mib,
        log_retention=log_retention,
    )
    if settings.chroma_spot:
        run_on_fargate_spot(vector_store.cluster, vector_store.service)
    cache = CacheStack(
        app,
        f"{prefix}-Cache",
        description="KnowledgeBeast: ElastiCache replication group",
        vpc=network.vpc,
        subnets=network.private_subnets,
        security_group=groups.redis,
        auth_token=secrets.redis_auth_token,
        engine=settings.cache_engine,
        engine_version=settings.cache_engine_version,
        node_type=settings.cache_node_type,
        replicas=settings.cache_replicas,
        port=settings.redis_port,
        snapshot_retention_days=settings.cache_snapshot_retention_days,
        snapshot_window=settings.cache_snapshot_window,
        maintenance_window=settings.cache_maintenance_window,
    )
    secret_refs = SecretRefs(
        api_keys=secrets.api_keys,
        jwt_secret=secrets.jwt_secret,
        chroma_auth_token=secrets.chroma_auth_token,
        redis_auth_token=secrets.redis_auth_token,
    )
    # CloudFormation name kept as "-Api" (renaming it would replace the stack and its API URL).
    api = ComputeStack(
        app,
        f"{prefix}-Api",
        description="KnowledgeBeast: HTTP API and Lambda functions",
        settings=settings,
        assets=assets,
        log_retention=log_retention,
        vpc=network.vpc,
        subnets=network.private_subnets,
        lambda_security_group=groups.lambdas,
        documents=storage.documents,
        backups=storage.backups,
        ingest_queue=storage.ingest_queue,
        secrets=secret_refs,
        redis_host=cache.primary_host,
    )
    grant_access(api, documents=storage.documents, backups=storage.backups, secrets=secret_refs)
    # The functions reach Chroma by DNS name; make sure the service exists before they deploy.
    api.add_stack_dependency(vector_store, reason="Lambdas resolve the Chroma Cloud Map name at run time")
    observability = ObservabilityStack(
        app,
        f"{prefix}-Observability",
        description="KnowledgeBeast: alarms, alarm topic, dashboard",
        http_api=api.http_api,
        functions={"Query": api.query_function, "Ingest": api.ingest_function, "Backup": api.backup_function},
        ingest_queue=storage.ingest_queue,
        dead_letter_queue=storage.ingest_dead_letter_queue,
        chroma_service=vector_store.service,
        chroma_cluster=vector_store.cluster,
        backup_success_metric=backup_success_metric(),
        alarm_email=settings.alarm_email,
        max_5xx_percent=settings.api_5xx_rate_percent,
        max_p95_ms=settings.query_p95_ms,
    )
    backup = BackupStack(
        app,
        f"{prefix}-Backup",
        description="KnowledgeBeast: hourly backup schedule and backup alarms",
        backup_function=api.backup_function,
        alarm_topic=observability.alarm_topic,
    )
    reconcile = ReconcileStack(
        app,
        f"{prefix}-Reconcile",
        description="KnowledgeBeast: scheduled reconcile of the documents bucket with the index",
        inputs=ReconcileInputs(
            code_dir=assets.reconcile_function,
            layers=[api.layers.dependencies, api.layers.package],
            vpc=network.vpc,
            subnets=network.private_subnets,
            security_group=groups.lambdas,
            documents=storage.documents,
            ingest_queue=storage.ingest_queue,
            chroma_auth_token=secrets.chroma_auth_token,
            chroma_host=settings.chroma_host,
            chroma_port=settings.chroma_port,
            log_retention=log_retention,
        ),
        alarm_topic=observability.alarm_topic,
    )
    reconcile.add_dependency(vector_store, "the reconcile function resolves the Chroma Cloud Map name at run time")
    eks_stack: Stack | None = None
    if settings.eks:
        from knowledgebeast_cdk.eks import EksFallbackStack, eks_options

        eks_stack = EksFallbackStack(
            app,
            f"{prefix}-Eks",
            description="KnowledgeBeast: EKS fallback (API, Chroma, Redis on Kubernetes)",
            max_azs=settings.max_azs,
            chroma_image_directory=assets.chroma_image,
            api_image=settings.eks_api_image,
            log_retention=log_retention,
            options=eks_options(settings),
        )
    return KnowledgeBeastStacks(
        network=network,
        storage=storage,
        vector_store=vector_store,
        cache=cache,
        api=api,
        observability=observability,
        backup=backup,
        eks=eks_stack,
        reconcile=reconcile,
    )
