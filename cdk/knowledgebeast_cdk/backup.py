"""Backup: an hourly EventBridge schedule for the backup Lambda, and the alarms that prove it ran.

"Backup missing" is measured on the custom EMF metric ``BackupSuccess`` (namespace
``KnowledgeBeast``, dimension ``service=knowledgebeast-backup``), which the backup Lambda emits
once per successful run. The alarm sums it per hour and treats missing data as breaching, so
two hours without a success (the Lambda not running at all, failing, or timing out) alarm just
like an explicit failure: the backup age is then more than 2 hours. A second alarm fires on any
Lambda error, so a failing backup is reported within the hour.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from knowledgebeast_cdk.settings import BACKUP_SERVICE_NAME, BACKUP_SUCCESS_METRIC, METRICS_NAMESPACE

ONE_HOUR = Duration.hours(1)
#: Alarm once no successful backup was recorded for this many consecutive hours.
MAX_BACKUP_AGE_HOURS = 2


def backup_success_metric() -> cloudwatch.Metric:
    """Successful backups per hour, as emitted by the backup Lambda through Powertools Metrics."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=BACKUP_SUCCESS_METRIC,
        dimensions_map={"service": BACKUP_SERVICE_NAME},
        statistic="Sum",
        period=ONE_HOUR,
    )


class HourlyBackupSchedule(Construct):
    """Invokes the backup function at the top of every hour (retries twice, then gives up)."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="KnowledgeBeast hourly backup",
            schedule=events.Schedule.cron(minute="0"),
            targets=[targets.LambdaFunction(function, retry_attempts=2, max_event_age=Duration.minutes(30))],
        )


class BackupAlarms(Construct):
    """Backup Lambda errors, and no successful backup in the last two hours."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.errors = function.metric_errors(period=ONE_HOUR, statistic="Sum").create_alarm(
            self,
            "BackupErrors",
            alarm_description="The backup Lambda failed",
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.missing = backup_success_metric().create_alarm(
            self,
            "BackupMissing",
            alarm_description=f"No successful backup for {MAX_BACKUP_AGE_HOURS} hours (backup age > 2 h)",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=MAX_BACKUP_AGE_HOURS,
            datapoints_to_alarm=MAX_BACKUP_AGE_HOURS,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        return [self.errors, self.missing]


class BackupStack(Stack):
    """The hourly schedule and the backup alarms (published to the observability topic)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        backup_function: lambda_.IFunction,
        alarm_topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.schedule = HourlyBackupSchedule(self, "Schedule", function=backup_function)
        self.alarms = BackupAlarms(self, "Alarms", function=backup_function)
        action = cw_actions.SnsAction(alarm_topic)
        for alarm in self.alarms.all:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
