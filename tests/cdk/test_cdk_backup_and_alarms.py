"""Backup schedule and the five alarm conditions (API 5xx, p95, DLQ, Chroma tasks, backup age)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cdk_helpers import Synthesized, find_one


def test_hourly_schedule_targets_the_backup_function(synth: Synthesized) -> None:
    _, rule = find_one(synth.resources("Backup", "AWS::Events::Rule"))
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 * * * ? *)"
    (target,) = props["Targets"]
    assert "BackupFunction" in target["Arn"]["Fn::GetStackOutput"]["OutputName"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    _, permission = find_one(synth.resources("Backup", "AWS::Lambda::Permission"))
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


def _is_api_5xx_rate(props: dict[str, Any]) -> bool:
    metrics = props.get("Metrics", [])
    names = {m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in metrics}
    return {"5xx", "Count"} <= names and props["ComparisonOperator"] == "GreaterThanThreshold"


def _is_p95_latency(props: dict[str, Any]) -> bool:
    return (
        props.get("MetricName") == "Latency"
        and props.get("ExtendedStatistic") == "p95"
        and props["Threshold"] == 500
        and props["ComparisonOperator"] == "GreaterThanThreshold"
    )


def _is_dlq_not_empty(props: dict[str, Any]) -> bool:
    dimension = props.get("Dimensions", [{}])[0].get("Value", {})
    return (
        props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and "IngestDeadLetterQueue" in str(dimension)
        and props["Threshold"] == 0
        and props["ComparisonOperator"] == "GreaterThanThreshold"
    )


def _is_chroma_not_running(props: dict[str, Any]) -> bool:
    return (
        props.get("Namespace") == "ECS/ContainerInsights"
        and props.get("MetricName") == "RunningTaskCount"
        and props["Threshold"] == 1
        and props["ComparisonOperator"] == "LessThanThreshold"
        and props["TreatMissingData"] == "breaching"
    )


def _is_backup_missing(props: dict[str, Any]) -> bool:
    return (
        props.get("Namespace") == "KnowledgeBeast"
        and props.get("MetricName") == "BackupSuccess"
        and props["Dimensions"] == [{"Name": "service", "Value": "knowledgebeast-backup"}]
        and props["ComparisonOperator"] == "LessThanThreshold"
        and props["Threshold"] == 1
        and props["Period"] * props["EvaluationPeriods"] == 2 * 3600
        and props["TreatMissingData"] == "breaching"
    )


def _is_backup_errors(props: dict[str, Any]) -> bool:
    return props.get("MetricName") == "Errors" and props.get("Namespace") == "AWS/Lambda"


@pytest.mark.parametrize(
    ("role", "condition"),
    [
        ("Observability", _is_api_5xx_rate),
        ("Observability", _is_p95_latency),
        ("Observability", _is_dlq_not_empty),
        ("Observability", _is_chroma_not_running),
        ("Backup", _is_backup_missing),
        ("Backup", _is_backup_errors),
    ],
)
def test_alarm_exists_and_notifies_the_topic(
    synth: Synthesized, role: str, condition: Callable[[dict[str, Any]], bool]
) -> None:
    alarms = [a["Properties"] for a in synth.resources(role, "AWS::CloudWatch::Alarm").values()]
    (alarm,) = [props for props in alarms if condition(props)]
    (action,) = alarm["AlarmActions"]
    topic = find_one(synth.resources("Observability", "AWS::SNS::Topic"))[0]
    if role == "Observability":
        assert action == {"Ref": topic}
    else:
        assert "AlarmsTopic" in action["Fn::GetStackOutput"]["OutputName"]


def test_alarm_topic_is_encrypted_and_tls_only(synth: Synthesized) -> None:
    _, topic = find_one(synth.resources("Observability", "AWS::SNS::Topic"))
    assert "KmsMasterKeyId" in topic["Properties"]
    _, policy = find_one(synth.resources("Observability", "AWS::SNS::TopicPolicy"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s["Condition"]) for s in statements)


def test_dashboard_exists(synth: Synthesized) -> None:
    synth.template("Observability").resource_count_is("AWS::CloudWatch::Dashboard", 1)
