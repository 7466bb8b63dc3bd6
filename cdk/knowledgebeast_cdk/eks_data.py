"""What the EKS fallback's workloads use outside the cluster: secrets, document and backup
buckets, the ingest queue (S3 -> SQS -> ``knowledgebeast worker ingest``), and the IAM role the
pods assume through EKS Pod Identity. Own resources, so the EKS stack stands alone."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: Generated values, letters and digits only (the Chroma proxy's token rule is the strictest).
SECRET_NAMES = ("api-keys", "jwt", "chroma-token", "redis-password")
#: Longer than the worker's longest expected file; the worker's heartbeat extends it meanwhile.
QUEUE_VISIBILITY = Duration.minutes(5)


class EksData(Construct):
    """Secrets, buckets, queue and the pods' IAM role."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secrets = {
            name: secretsmanager.Secret(
                self,
                f"Secret-{name}",
                description=f"KnowledgeBeast EKS: {name}",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=48, exclude_punctuation=True
                ),
                removal_policy=RemovalPolicy.RETAIN,
            )
            for name in SECRET_NAMES
        }
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.documents = self._bucket("Documents", access_logs)
        self.backups = self._bucket("Backups", access_logs)
        self.dead_letters = sqs.Queue(
            self,
            "IngestDeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "IngestQueue",
            visibility_timeout=QUEUE_VISIBILITY,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letters),
        )
        destination = s3n.SqsDestination(self.queue)
        self.documents.add_event_notification(s3.EventType.OBJECT_CREATED, destination)
        self.documents.add_event_notification(s3.EventType.OBJECT_REMOVED, destination)

    def _bucket(self, name: str, access_logs: s3.Bucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{name.lower()}/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def pod_role(self, cluster_name: str, namespace: str, service_account: str) -> iam.Role:
        """The role of the namespace's service account: read the secrets, consume the queue, read
        documents, write backups. Bound by a Pod Identity association (no OIDC provider needed)."""
        role = iam.Role(
            self,
            "PodRole",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            description="KnowledgeBeast pods (EKS Pod Identity)",
        )
        for secret in self.secrets.values():
            secret.grant_read(role)
        self.queue.grant_consume_messages(role)
        self.documents.grant_read(role)
        self.backups.grant_read_write(role)
        eks_l1.CfnPodIdentityAssociation(
            self,
            "PodIdentity",
            cluster_name=cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.role_arn,
        )
        return role
