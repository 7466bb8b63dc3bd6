"""Storage stack: private encrypted buckets, backup retention, S3 -> SQS wiring, generated secrets."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from cdk_helpers import Synthesized, find_one


def _data_buckets(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in synth.resources("Storage", "AWS::S3::Bucket").items()
        if name.startswith(("Documents", "Backups"))
    }


def test_documents_and_backups_buckets_exist(synth: Synthesized) -> None:
    assert sorted(name.split("Bucket")[0] for name in _data_buckets(synth)) == ["Backups", "Documents"]


def test_every_bucket_is_encrypted_private_and_retained(synth: Synthesized) -> None:
    buckets = synth.resources("Storage", "AWS::S3::Bucket")
    assert len(buckets) == 3  # documents, backups, access logs
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert bucket["DeletionPolicy"] == "Retain", name


def test_data_buckets_use_kms_versioning_and_access_logs(synth: Synthesized) -> None:
    for name, bucket in _data_buckets(synth).items():
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert rule["BucketKeyEnabled"] is True, name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert "DestinationBucketName" in props["LoggingConfiguration"], name


def test_every_bucket_denies_non_tls_requests(synth: Synthesized) -> None:
    policies = synth.resources("Storage", "AWS::S3::BucketPolicy")
    buckets = {policy["Properties"]["Bucket"]["Ref"] for policy in policies.values()}
    assert buckets == set(synth.resources("Storage", "AWS::S3::Bucket"))
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


@pytest.mark.parametrize(("prefix", "days"), [("daily/", 30), ("hourly/", 7)])
def test_backup_lifecycle_expires_by_prefix(synth: Synthesized, prefix: str, days: int) -> None:
    synth.template("Storage").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Prefix": prefix, "ExpirationInDays": days, "Status": "Enabled"})]
                )
            }
        },
    )


def test_document_events_reach_the_ingest_queue(synth: Synthesized) -> None:
    _, notifications = find_one(synth.resources("Storage", "Custom::S3BucketNotifications"))
    props = notifications["Properties"]
    assert props["BucketName"]["Ref"].startswith("DocumentsBucket")
    configs = props["NotificationConfiguration"]["QueueConfigurations"]
    queue, _ = find_one(
        {k: v for k, v in synth.resources("Storage", "AWS::SQS::Queue").items() if k.startswith("IngestQueue")}
    )
    assert sorted(c["Events"] for c in configs) == [["s3:ObjectCreated:*"], ["s3:ObjectRemoved:*"]]
    assert all(c["QueueArn"] == {"Fn::GetAtt": [queue, "Arn"]} for c in configs)
    # The queue policy lets exactly this bucket send.
    synth.template("Storage").has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Condition": {"ArnLike": {"aws:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_ingest_queue_redrives_to_dlq_after_five_receives(synth: Synthesized) -> None:
    queues = synth.resources("Storage", "AWS::SQS::Queue")
    dlq = next(name for name in queues if name.startswith("IngestDeadLetterQueue"))
    main = next(name for name in queues if name.startswith("IngestQueue"))
    props = queues[main]["Properties"]
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": 5}
    assert props["VisibilityTimeout"] == 6 * 300
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_secrets_are_generated_and_retained(synth: Synthesized) -> None:
    secrets = synth.resources("Storage", "AWS::SecretsManager::Secret")
    assert len(secrets) == 4
    for name, secret in secrets.items():
        assert "SecretString" not in secret["Properties"], name
        assert secret["Properties"]["GenerateSecretString"]["ExcludePunctuation"] is True
        assert secret["DeletionPolicy"] == "Retain"
