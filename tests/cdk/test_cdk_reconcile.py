"""Scheduled reconcile: the function, its least-privilege grants, its schedule and its alarms."""

from __future__ import annotations

from typing import Any

from cdk_helpers import Synthesized, find_one


def _function(synth: Synthesized) -> dict[str, Any]:
    _, function = find_one(synth.resources("Reconcile", "AWS::Lambda::Function"))
    props: dict[str, Any] = function["Properties"]
    return props


def test_function_has_what_reconcile_needs_and_no_model(synth: Synthesized) -> None:
    props = _function(synth)
    env = props["Environment"]["Variables"]
    assert {"DOCUMENTS_BUCKET", "INGEST_QUEUE_URL", "CHROMA_HOST", "CHROMA_AUTH_TOKEN_SECRET_ARN"} <= set(env)
    assert env["RECONCILE_MAX_REPAIRS"] == "500" and env["POWERTOOLS_SERVICE_NAME"] == "knowledgebeast-reconcile"
    assert "EMBEDDING_MODEL_DIR" not in env
    assert len(props["Layers"]) == 2  # dependencies + package, not the model layer
    assert props["ReservedConcurrentExecutions"] == 1
    assert props["VpcConfig"]["SubnetIds"]


def test_grants_are_list_bucket_send_message_and_the_chroma_token_only(synth: Synthesized) -> None:
    _, policy = find_one(synth.resources("Reconcile", "AWS::IAM::Policy"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:ListBucket" in actions and "sqs:SendMessage" in actions
    assert not any(a.startswith("s3:GetObject") or a.startswith("s3:Put") or a.startswith("s3:Delete") for a in actions)
    assert "SecretsChromaAuthToken" in str(statements) and "SecretsApiKeys" not in str(statements)
    assert "*" not in str([s["Resource"] for s in statements])


def test_schedule_invokes_the_function_hourly(synth: Synthesized) -> None:
    _, rule = find_one(synth.resources("Reconcile", "AWS::Events::Rule"))
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    _, permission = find_one(synth.resources("Reconcile", "AWS::Lambda::Permission"))
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


def test_drift_alarm_fires_when_drift_persists_for_three_runs(synth: Synthesized) -> None:
    alarms = [a["Properties"] for a in synth.resources("Reconcile", "AWS::CloudWatch::Alarm").values()]
    (drift,) = [a for a in alarms if a.get("MetricName") == "reconcile_drift_documents"]
    assert drift["Namespace"] == "KnowledgeBeast"
    assert drift["Dimensions"] == [{"Name": "service", "Value": "knowledgebeast"}]
    assert (drift["Statistic"], drift["Period"], drift["EvaluationPeriods"], drift["DatapointsToAlarm"]) == (
        "Minimum",
        3600,
        3,
        3,
    )
    assert drift["Threshold"] == 0 and drift["ComparisonOperator"] == "GreaterThanThreshold"
    (errors,) = [a for a in alarms if a.get("MetricName") == "Errors"]
    for alarm in (drift, errors):
        (action,) = alarm["AlarmActions"]
        assert "AlarmsTopic" in action["Fn::GetStackOutput"]["OutputName"]
