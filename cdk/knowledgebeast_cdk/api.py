"""Compute: the HTTP API and the query/ingest/backup functions (their grants: app_builder.grant_access).

Secrets are passed as ARNs and read at run time: a value in a Lambda environment variable is
visible to anyone with ``lambda:GetFunctionConfiguration``. Each function gets only the ARNs it
uses, and read permission on exactly those.

Ingest concurrency is capped by the event source's maximum concurrency so a bulk upload cannot
stampede the single Chroma writer; the queue absorbs the burst. Reserved concurrency is off by
default (accounts with a low concurrency quota refuse any reservation) and can be turned on with
``ingest_reserved_concurrency`` / ``backup_reserved_concurrency``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from knowledgebeast_cdk.assets import AssetPaths
from knowledgebeast_cdk.functions import ApplicationLayers, VpcFunction
from knowledgebeast_cdk.settings import (
    BACKUP_SERVICE_NAME,
    EMBEDDING_MODEL_DIR,
    METRICS_NAMESPACE,
    DeploymentSettings,
)

#: One JSON object per request; context variables documented for HTTP APIs.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@dataclass(frozen=True)
class SecretRefs:
    """The secrets the functions may read (all live in the storage stack)."""

    api_keys: secretsmanager.ISecret
    jwt_secret: secretsmanager.ISecret
    chroma_auth_token: secretsmanager.ISecret
    redis_auth_token: secretsmanager.ISecret


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """Plain implementation of the jsii interface (CDK ships none for HTTP API stages)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: str) -> None:
        self._destination = destination
        self._format = apigateway.AccessLogFormat.custom(log_format)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class QueryHttpApi(Construct):
    """An HTTP API whose every route goes to the query function, with stage throttling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        throttle_rate: float,
        throttle_burst: int,
        cors_origins: Sequence[str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        cors = (
            apigwv2.CorsPreflightOptions(
                allow_origins=list(cors_origins),
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
                max_age=Duration.hours(1),
            )
            if cors_origins
            else None
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{Stack.of(self).stack_name}-query",
            description="KnowledgeBeast query API",
            create_default_stage=False,
            cors_preflight=cors,
            default_integration=integrations.HttpLambdaIntegration("Query", handler),
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst),
            access_log_settings=_AccessLogSettings(apigwv2.LogGroupLogDestination(self.access_logs), ACCESS_LOG_FORMAT),
        )


class ComputeStack(Stack):
    """Layers, the three functions (query, ingest, backup), the HTTP API and the SQS trigger.

    What the functions may touch is granted where the stacks are composed
    (:func:`knowledgebeast_cdk.app_builder.grant_access`), next to the resources themselves.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploymentSettings,
        assets: AssetPaths,
        log_retention: logs.RetentionDays,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        lambda_security_group: ec2.ISecurityGroup,
        documents: s3.IBucket,
        backups: s3.IBucket,
        ingest_queue: sqs.IQueue,
        secrets: SecretRefs,
        redis_host: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        layers = ApplicationLayers(
            self,
            "Layers",
            deps_dir=assets.deps_layer,
            models_dir=assets.models_layer,
            package_dir=assets.package_layer,
        )
        self.layers = layers
        base_env = {
            "APP_ENV": "production",
            "CHROMA_HOST": settings.chroma_host,
            "CHROMA_PORT": str(settings.chroma_port),
            "CHROMA_AUTH_TOKEN_SECRET_ARN": secrets.chroma_auth_token.secret_arn,
            "EMBEDDING_MODEL_DIR": EMBEDDING_MODEL_DIR,
            "DOCUMENTS_BUCKET": documents.bucket_name,
            "BACKUP_BUCKET": backups.bucket_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        cache_env = {
            "REDIS_HOST": redis_host,
            "REDIS_PORT": str(settings.redis_port),
            "REDIS_SSL": "true",
            "REDIS_PASSWORD_SECRET_ARN": secrets.redis_auth_token.secret_arn,
        }
        auth_env = {
            "API_KEYS_SECRET_ARN": secrets.api_keys.secret_arn,
            "JWT_SECRET_ARN": secrets.jwt_secret.secret_arn,
        }

        def function(
            name: str,
            *,
            code_dir: Path,
            env: Mapping[str, str],
            service: str,
            memory_mib: int,
            timeout: Duration,
            reserved: int | None = None,
            snap_start: bool = False,
        ) -> lambda_.Function:
            return VpcFunction(
                self,
                name,
                code_dir=code_dir,
                description=f"KnowledgeBeast {name.lower()}",
                layers=layers.all,
                vpc=vpc,
                subnets=subnets,
                security_group=lambda_security_group,
                environment={**env, "POWERTOOLS_SERVICE_NAME": service},
                memory_mib=memory_mib,
                timeout=timeout,
                log_retention=log_retention,
                reserved_concurrency=reserved,
                snap_start=snap_start,
            ).function

        self.query_function = function(
            "Query",
            code_dir=assets.query_function,
            env={**base_env, **cache_env, **auth_env},
            service="knowledgebeast-query",
            memory_mib=settings.query_memory_mib,
            # API Gateway stops waiting after 30 s; the function must give up first.
            timeout=Duration.seconds(29),
            snap_start=True,
        )
        # SnapStart applies to published versions only: the API calls the "live" alias of the
        # current version (a new version, and snapshot, on every code or configuration change).
        self.query_alias = lambda_.Alias(
            self, "QueryLive", alias_name="live", version=self.query_function.current_version
        )
        Annotations.of(self.query_function).acknowledge_warning(
            "@aws-cdk/aws-lambda:snapStartRequirePublish", "published: the API invokes the 'live' alias of a version"
        )
        self.ingest_function = function(
            "Ingest",
            code_dir=assets.ingest_function,
            env={**base_env, **cache_env},
            service="knowledgebeast-ingest",
            memory_mib=settings.ingest_memory_mib,
            timeout=Duration.seconds(settings.ingest_timeout_seconds),
            reserved=settings.ingest_reserved_concurrency or None,
        )
        self.backup_function = function(
            "Backup",
            code_dir=assets.backup_function,
            env=base_env,
            service=BACKUP_SERVICE_NAME,
            memory_mib=settings.backup_memory_mib,
            timeout=Duration.minutes(15),
            # Hourly runs never overlap (15 min timeout); a reservation of 1 also stops manual
            # invocations from racing the schedule on the same export.
            reserved=settings.backup_reserved_concurrency or None,
        )

        self.ingest_function.add_event_source(
            event_sources.SqsEventSource(
                ingest_queue,
                batch_size=settings.ingest_batch_size,
                report_batch_item_failures=True,
                # The cap on concurrent ingest invocations (service minimum 2); a reservation, if
                # any, must be at least this or pollers get throttled and burn receive counts.
                max_concurrency=settings.ingest_max_concurrency,
            )
        )

        http = QueryHttpApi(
            self,
            "Http",
            handler=self.query_alias,
            throttle_rate=settings.api_throttle_rate,
            throttle_burst=settings.api_throttle_burst,
            cors_origins=settings.cors_origins,
            log_retention=log_retention,
        )
        self.http_api = http.api
        self.stage = http.stage
        CfnOutput(self, "ApiUrl", value=http.stage.url, description="Base URL of the query API")
