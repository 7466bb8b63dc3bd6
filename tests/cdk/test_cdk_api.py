"""API/compute stack: functions, layers, SQS trigger, throttling, and no secret in any environment."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cdk_helpers import Synthesized, find_one

SECRET_ARN_VARS = {
    "Query": {"API_KEYS_SECRET_ARN", "JWT_SECRET_ARN", "CHROMA_AUTH_TOKEN_SECRET_ARN", "REDIS_PASSWORD_SECRET_ARN"},
    "Ingest": {"CHROMA_AUTH_TOKEN_SECRET_ARN", "REDIS_PASSWORD_SECRET_ARN"},
    "Backup": {"CHROMA_AUTH_TOKEN_SECRET_ARN"},
}
SENSITIVE_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|JWT", re.IGNORECASE)


def _function(synth: Synthesized, name: str) -> dict[str, Any]:
    return find_one(
        {k: v for k, v in synth.resources("Api", "AWS::Lambda::Function").items() if k.startswith(f"{name}Function")}
    )[1]["Properties"]


@pytest.mark.parametrize("name", ["Query", "Ingest", "Backup"])
def test_functions_run_python312_in_the_vpc_with_three_layers(synth: Synthesized, name: str) -> None:
    props = _function(synth, name)
    assert (props["Runtime"], props["Handler"], props["Architectures"]) == ("python3.12", "handler.handler", ["x86_64"])
    assert len(props["Layers"]) == 3
    vpc = props["VpcConfig"]
    assert len(vpc["SubnetIds"]) == 2
    (group,) = vpc["SecurityGroupIds"]
    assert "SecurityGroupsLambda" in group["Fn::GetStackOutput"]["OutputName"]


def test_environment_points_at_services_and_secret_arns(synth: Synthesized) -> None:
    env = _function(synth, "Query")["Environment"]["Variables"]
    assert env["CHROMA_HOST"] == "chroma.knowledgebeast.internal"
    assert (env["CHROMA_PORT"], env["REDIS_PORT"], env["REDIS_SSL"]) == ("8000", "6379", "true")
    assert env["APP_ENV"] == "production"
    assert env["EMBEDDING_MODEL_DIR"] == "/opt/models/all-MiniLM-L6-v2"
    assert "CacheReplicationGroup" in env["REDIS_HOST"]["Fn::GetStackOutput"]["OutputName"]
    for bucket, output in (("DOCUMENTS_BUCKET", "RefDocumentsBucket"), ("BACKUP_BUCKET", "RefBackupsBucket")):
        assert output in env[bucket]["Fn::GetStackOutput"]["OutputName"]


@pytest.mark.parametrize("name", ["Query", "Ingest", "Backup"])
def test_only_secret_arns_in_environment(synth: Synthesized, name: str) -> None:
    """A secret is an ARN reference to a Secrets Manager secret, never a value or dynamic reference."""
    env = _function(synth, name)["Environment"]["Variables"]
    assert {key for key in env if key.endswith("_SECRET_ARN")} == SECRET_ARN_VARS[name]
    for key, value in env.items():
        assert "resolve:secretsmanager" not in json.dumps(value), key
        if SENSITIVE_NAME.search(key):
            assert key.endswith("_SECRET_ARN"), f"{key} looks like a secret value"
            output = value["Fn::GetStackOutput"]
            assert output["StackName"] == synth.stacks.storage.stack_name
            assert output["OutputName"].startswith("PublishOutputRefSecrets"), key


def test_secret_values_appear_in_no_template_except_the_cache_auth_token(synth: Synthesized) -> None:
    for role, template in synth.templates.items():
        text = json.dumps(template)
        expected = 1 if role == "Cache" else 0
        assert text.count("resolve:secretsmanager") == expected, role


def test_ingest_reads_sqs_with_partial_batch_failures_and_capped_concurrency(synth: Synthesized) -> None:
    _, mapping = find_one(synth.resources("Api", "AWS::Lambda::EventSourceMapping"))
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["FunctionName"]["Ref"].startswith("IngestFunction")
    assert "IngestQueue" in props["EventSourceArn"]["Fn::GetStackOutput"]["OutputName"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}


@pytest.mark.parametrize("name", ["Query", "Ingest", "Backup"])
def test_no_reserved_concurrency_by_default(synth: Synthesized, name: str) -> None:
    """Accounts with a low concurrency quota refuse any reservation; the event source caps ingest."""
    assert "ReservedConcurrentExecutions" not in _function(synth, name)


def test_http_api_routes_everything_to_query_with_stage_throttling(synth: Synthesized) -> None:
    template = synth.template("Api")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
            "AccessLogSettings": {"DestinationArn": {"Fn::GetAtt": [_access_log_group(synth), "Arn"]}},
        },
    )
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default"})
    _, integration = find_one(synth.resources("Api", "AWS::ApiGatewayV2::Integration"))
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def _access_log_group(synth: Synthesized) -> str:
    groups = [name for name in synth.resources("Api", "AWS::Logs::LogGroup") if name.startswith("HttpAccessLogs")]
    assert len(groups) == 1
    return groups[0]


def test_grants_follow_least_privilege(synth: Synthesized) -> None:
    """Only Backup may write to S3; only Query reads the API-key and JWT secrets."""
    policies = synth.resources("Api", "AWS::IAM::Policy")

    def statements(function: str) -> str:
        return json.dumps(
            [p["Properties"]["PolicyDocument"] for name, p in policies.items() if name.startswith(function)]
        )

    assert "s3:PutObject" in statements("Backup")
    assert "s3:PutObject" not in statements("Ingest") and "s3:PutObject" not in statements("Query")
    assert "SecretsApiKeys" in statements("Query") and "SecretsApiKeys" not in statements("Ingest")
    assert "SecretsRedisAuthToken" not in statements("Backup")
    assert "BackupsBucket" not in statements("Query") and "DocumentsBucket" not in statements("Backup")


def test_query_function_uses_snapstart_through_a_published_alias(synth: Synthesized) -> None:
    """SnapStart only applies to published versions: the API must call the alias, not $LATEST."""
    assert _function(synth, "Query")["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert "SnapStart" not in _function(synth, "Ingest")  # SQS-driven: cold starts are not user-facing
    alias_name, alias = find_one(synth.resources("Api", "AWS::Lambda::Alias"))
    assert alias["Properties"]["Name"] == "live"
    version_name, _ = find_one(synth.resources("Api", "AWS::Lambda::Version"))
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_name, "Version"]}
    _, integration = find_one(synth.resources("Api", "AWS::ApiGatewayV2::Integration"))
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_name}
