"""Observability: the alarm topic, the service alarms, and one dashboard.

Alarms watch what a user would notice (5xx rate, p95 latency) and what silently loses data (a
non-empty DLQ, no Chroma task running). The two backup alarms live in the backup stack, which
publishes to this stack's topic; the dashboard still graphs backup success from the metric.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)


class AlarmTopic(Construct):
    """A KMS-encrypted SNS topic that CloudWatch alarms may publish to."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        # The AWS-managed SNS key cannot be granted to CloudWatch, so alarms need a CMK.
        self.key = kms.Key(
            self,
            "Key",
            description="KnowledgeBeast alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "Topic", display_name="KnowledgeBeast alarms", master_key=self.key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


def chroma_running_tasks(service: ecs.BaseService, cluster: ecs.ICluster) -> cloudwatch.Metric:
    """Container Insights' running task count for the Chroma service (minimum per minute)."""
    return cloudwatch.Metric(
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": cluster.cluster_name, "ServiceName": service.service_name},
        statistic="Minimum",
        period=ONE_MINUTE,
    )


class ServiceAlarms(Construct):
    """API 5xx rate, query p95 latency, DLQ not empty, and Chroma task not running."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        http_api: apigwv2.IHttpApi,
        dead_letter_queue: sqs.IQueue,
        chroma_service: ecs.BaseService,
        chroma_cluster: ecs.ICluster,
        max_5xx_percent: float,
        max_p95_ms: float,
    ) -> None:
        super().__init__(scope, construct_id)
        error_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={
                "errors": http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                "requests": http_api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
            },
            label="5xx rate (%)",
            period=FIVE_MINUTES,
        )
        self.api_5xx_rate = error_rate.create_alarm(
            self,
            "Api5xxRate",
            alarm_description=f"More than {max_5xx_percent}% of API requests failed with 5xx",
            threshold=max_5xx_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.query_latency_p95 = http_api.metric_latency(period=FIVE_MINUTES, statistic="p95").create_alarm(
            self,
            "QueryLatencyP95",
            alarm_description=f"API p95 latency above {max_p95_ms:.0f} ms for 15 minutes",
            threshold=max_p95_ms,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dlq_not_empty = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic="Maximum"
        ).create_alarm(
            self,
            "IngestDlqNotEmpty",
            alarm_description="Documents failed ingestion 5 times and sit in the DLQ",
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.chroma_unhealthy = chroma_running_tasks(chroma_service, chroma_cluster).create_alarm(
            self,
            "ChromaTaskNotRunning",
            alarm_description="No healthy ChromaDB task is running: queries and ingestion fail",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            # No data means Container Insights sees no task at all.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        return [self.api_5xx_rate, self.query_latency_p95, self.dlq_not_empty, self.chroma_unhealthy]


class ObservabilityStack(Stack):
    """Alarm topic, service alarms wired to it, and the operations dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        http_api: apigwv2.IHttpApi,
        functions: dict[str, lambda_.IFunction],
        ingest_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        chroma_service: ecs.BaseService,
        chroma_cluster: ecs.ICluster,
        backup_success_metric: cloudwatch.IMetric,
        alarm_email: str | None,
        max_5xx_percent: float,
        max_p95_ms: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alarm_topic = AlarmTopic(self, "Alarms", email=alarm_email).topic
        alarms = ServiceAlarms(
            self,
            "ServiceAlarms",
            http_api=http_api,
            dead_letter_queue=dead_letter_queue,
            chroma_service=chroma_service,
            chroma_cluster=chroma_cluster,
            max_5xx_percent=max_5xx_percent,
            max_p95_ms=max_p95_ms,
        )
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in alarms.all:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)

        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms.all, width=24, height=3),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[http_api.metric_count(period=FIVE_MINUTES, statistic="Sum")],
                right=[
                    http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                    http_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                left=[http_api.metric_latency(period=FIVE_MINUTES, statistic=stat) for stat in ("p50", "p95", "p99")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=max_p95_ms, label="p95 target")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name} Lambda",
                    left=[fn.metric_invocations(period=FIVE_MINUTES), fn.metric_errors(period=FIVE_MINUTES)],
                    right=[fn.metric_duration(period=FIVE_MINUTES, statistic="p95")],
                    width=8,
                )
                for name, fn in functions.items()
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Ingest queue",
                left=[
                    ingest_queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE),
                    ingest_queue.metric_approximate_age_of_oldest_message(period=ONE_MINUTE),
                ],
                right=[dead_letter_queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Chroma (ECS)",
                left=[chroma_running_tasks(chroma_service, chroma_cluster)],
                right=[
                    chroma_service.metric_cpu_utilization(period=FIVE_MINUTES),
                    chroma_service.metric_memory_utilization(period=FIVE_MINUTES),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Successful backups per hour",
                left=[backup_success_metric],
                width=8,
            ),
        )
