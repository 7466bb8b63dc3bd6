"""Storage: the durable state that must outlive any redeploy (RETAINed unless ``retain_on_delete=false``).

With ``retain_on_delete=false`` (dev stacks) ``cdk destroy`` removes it all: buckets are emptied
by CDK's auto-delete custom resource, the KMS key is scheduled for deletion after 7 days, the
secrets are deleted (Secrets Manager keeps them recoverable for its default window).

The documents bucket, the ingest queue it notifies, and that queue's DLQ live in one stack: the
S3 notification references the queue and the queue's redrive policy references the DLQ, so
splitting them across stacks would create a dependency cycle. Consumers (the ingest Lambda) only
reference this stack, never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: Backup retention by prefix: the backup Lambda writes ``hourly/...`` every hour and
#: ``daily/...`` once a day.
BACKUP_RETENTION_DAYS: dict[str, int] = {"hourly/": 7, "daily/": 30}


def removal_policy(retain: bool) -> RemovalPolicy:
    """``retain_on_delete`` for one resource (the app-wide DESTROY aspect covers the other stacks)."""
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY


class AccessLogsBucket(Construct):
    """Target for S3 server access logs (log delivery only supports SSE-S3 targets)."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: Duration, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy(retain),
            auto_delete_objects=not retain,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=retention)],
        )


class PrivateBucket(Construct):
    """A KMS-encrypted, versioned, TLS-only bucket that can never be made public."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        access_log_prefix: str,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        retain: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=access_log_prefix,
            removal_policy=removal_policy(retain),
            auto_delete_objects=not retain,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tidy-versions-and-uploads",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *lifecycle_rules,
            ],
        )


class IngestQueue(Construct):
    """The ingest work queue and its DLQ; a message moves to the DLQ after 5 failed receives."""

    MAX_RECEIVE_COUNT = 5

    def __init__(self, scope: Construct, construct_id: str, *, visibility_timeout: Duration) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self.MAX_RECEIVE_COUNT
            ),
        )


class ApplicationSecrets(Construct):
    """Generated secrets; their SecretString is the raw value (no JSON), read at run time by ARN.

    Values use letters and digits only: every consumer accepts them (ElastiCache AUTH forbids
    some punctuation, the Chroma proxy rejects characters it would treat as wildcards).
    """

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        self._removal = removal_policy(retain)
        self.api_keys = self._generated("ApiKeys", "API keys for X-API-Key (comma-separated)", 48)
        self.jwt_secret = self._generated("JwtSecret", "HMAC key that signs and verifies JWTs", 64)
        self.chroma_auth_token = self._generated("ChromaAuthToken", "Bearer token for the Chroma proxy", 48)
        self.redis_auth_token = self._generated("RedisAuthToken", "ElastiCache AUTH token", 64)

    def _generated(self, construct_id: str, description: str, length: int) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            construct_id,
            description=f"KnowledgeBeast: {description}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=length, exclude_punctuation=True, include_space=False
            ),
            removal_policy=self._removal,
        )


class StorageStack(Stack):
    """Buckets, the ingest queue, secrets; the documents bucket notifies the queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingest_visibility_timeout: Duration,
        retain_on_delete: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        retain = retain_on_delete
        self.data_key = kms.Key(
            self,
            "DataKey",
            description="KnowledgeBeast documents and backups",
            enable_key_rotation=True,
            removal_policy=removal_policy(retain),
            pending_window=None if retain else Duration.days(7),
        )
        self.access_logs = AccessLogsBucket(self, "AccessLogs", retention=Duration.days(365), retain=retain).bucket
        self.documents = PrivateBucket(
            self,
            "Documents",
            key=self.data_key,
            access_logs=self.access_logs,
            access_log_prefix="documents/",
            retain=retain,
        ).bucket
        self.backups = PrivateBucket(
            self,
            "Backups",
            key=self.data_key,
            access_logs=self.access_logs,
            access_log_prefix="backups/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=f"expire-{prefix.rstrip('/')}",
                    prefix=prefix,
                    expiration=Duration.days(days),
                    noncurrent_version_expiration=Duration.days(1),
                )
                for prefix, days in BACKUP_RETENTION_DAYS.items()
            ],
            retain=retain,
        ).bucket

        ingest = IngestQueue(self, "Ingest", visibility_timeout=ingest_visibility_timeout)
        self.ingest_queue = ingest.queue
        self.ingest_dead_letter_queue = ingest.dead_letter_queue
        destination = s3n.SqsDestination(self.ingest_queue)
        self.documents.add_event_notification(s3.EventType.OBJECT_CREATED, destination)
        self.documents.add_event_notification(s3.EventType.OBJECT_REMOVED, destination)

        self.secrets = ApplicationSecrets(self, "Secrets", retain=retain)

        CfnOutput(self, "DocumentsBucketName", value=self.documents.bucket_name, description="Upload documents here")
        CfnOutput(self, "BackupBucketName", value=self.backups.bucket_name)
        CfnOutput(self, "ApiKeysSecretArn", value=self.secrets.api_keys.secret_arn, description="X-API-Key values")
        CfnOutput(self, "IngestDeadLetterQueueUrl", value=self.ingest_dead_letter_queue.queue_url)
