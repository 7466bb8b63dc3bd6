"""Scheduled reconcile: the documents bucket vs the document registry, repaired through the ingest queue.

An EventBridge rule runs the reconcile function every ``interval``. The function lists the bucket,
compares it with the registry, and sends at most ``max_repairs`` S3-shaped repair messages to the
ingest queue (the ingest function does the indexing, with its retries and DLQ), so it needs no
model and only: ``s3:ListBucket`` on the documents bucket, ``sqs:SendMessage`` on the ingest
queue, the Chroma token, and the network path to Chroma.

"Drift persists" is measured on the EMF metric ``reconcile_drift_documents`` (namespace
``KnowledgeBeast``, dimension ``service=knowledgebeast``), emitted once per run with the number
of documents missing, stale or orphaned *before* that run's repairs. One run with drift is normal
(events are late, or were lost and are now being repaired); drift in ``DRIFT_RUNS`` consecutive
runs means repairs are not sticking (ingest failing, DLQ filling, a bound too small), and alarms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from knowledgebeast_cdk.functions import VpcFunction
from knowledgebeast_cdk.settings import METRICS_NAMESPACE

RECONCILE_SERVICE_NAME = "knowledgebeast-reconcile"
DRIFT_METRIC = "reconcile_drift_documents"
#: The application's EMF sink names this dimension for metrics emitted without their own.
DRIFT_DIMENSIONS = {"service": "knowledgebeast"}
DEFAULT_INTERVAL = Duration.hours(1)
DEFAULT_MAX_REPAIRS = 500
#: Consecutive runs with drift before the alarm fires.
DRIFT_RUNS = 3


def drift_metric(period: Duration = DEFAULT_INTERVAL) -> cloudwatch.Metric:
    """Documents out of step at the start of each run (lowest value per period)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=DRIFT_METRIC,
        dimensions_map=DRIFT_DIMENSIONS,
        statistic="Minimum",
        period=period,
    )


@dataclass(frozen=True)
class ReconcileInputs:
    """What the reconcile function is built from (code, layers, network, and what it touches)."""

    code_dir: Path
    layers: Sequence[lambda_.ILayerVersion]
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    documents: s3.IBucket
    ingest_queue: sqs.IQueue
    chroma_auth_token: secretsmanager.ISecret
    chroma_host: str
    chroma_port: int
    log_retention: logs.RetentionDays


class ReconcileFunction(Construct):
    """The reconcile Lambda (VPC-bound, no model layer) and its least-privilege grants."""

    def __init__(self, scope: Construct, construct_id: str, *, inputs: ReconcileInputs, max_repairs: int) -> None:
        super().__init__(scope, construct_id)
        self.function = VpcFunction(
            self,
            "Reconcile",
            code_dir=inputs.code_dir,
            description="KnowledgeBeast reconcile (bucket vs registry)",
            layers=inputs.layers,
            vpc=inputs.vpc,
            subnets=inputs.subnets,
            security_group=inputs.security_group,
            environment={
                "APP_ENV": "production",
                "CHROMA_HOST": inputs.chroma_host,
                "CHROMA_PORT": str(inputs.chroma_port),
                "CHROMA_AUTH_TOKEN_SECRET_ARN": inputs.chroma_auth_token.secret_arn,
                "DOCUMENTS_BUCKET": inputs.documents.bucket_name,
                "INGEST_QUEUE_URL": inputs.ingest_queue.queue_url,
                "RECONCILE_MAX_REPAIRS": str(max_repairs),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_SERVICE_NAME": RECONCILE_SERVICE_NAME,
            },
            memory_mib=512,
            timeout=Duration.minutes(5),
            # two runs at once would send the same repairs twice
            reserved_concurrency=1,
            log_retention=inputs.log_retention,
        ).function
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[inputs.documents.bucket_arn])
        )
        inputs.ingest_queue.grant_send_messages(self.function)
        inputs.chroma_auth_token.grant_read(self.function)


class ReconcileSchedule(Construct):
    """Runs the reconcile function every ``interval`` (retries twice, then waits for the next run)."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, interval: Duration) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="KnowledgeBeast reconcile: documents bucket vs index",
            schedule=events.Schedule.rate(interval),
            targets=[targets.LambdaFunction(function, retry_attempts=2, max_event_age=Duration.minutes(30))],
        )


class ReconcileAlarms(Construct):
    """Drift in DRIFT_RUNS consecutive runs, and any reconcile Lambda error."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, interval: Duration) -> None:
        super().__init__(scope, construct_id)
        self.drift = drift_metric(interval).create_alarm(
            self,
            "DriftPersists",
            alarm_description=(
                f"Documents missing, stale or orphaned in the index for {DRIFT_RUNS} reconcile runs in a row: "
                "repairs are not sticking (check the ingest DLQ and ingest errors)"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=DRIFT_RUNS,
            datapoints_to_alarm=DRIFT_RUNS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.errors = function.metric_errors(period=interval, statistic="Sum").create_alarm(
            self,
            "ReconcileErrors",
            alarm_description="The reconcile Lambda failed",
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        return [self.drift, self.errors]


class ReconcileStack(Stack):
    """The reconcile function, its schedule and its alarms (published to the observability topic)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        inputs: ReconcileInputs,
        alarm_topic: sns.ITopic,
        interval: Duration = DEFAULT_INTERVAL,
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.function = ReconcileFunction(self, "Function", inputs=inputs, max_repairs=max_repairs).function
        self.schedule = ReconcileSchedule(self, "Schedule", function=self.function, interval=interval)
        self.alarms = ReconcileAlarms(self, "Alarms", function=self.function, interval=interval)
        action = cw_actions.SnsAction(alarm_topic)
        for alarm in self.alarms.all:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
