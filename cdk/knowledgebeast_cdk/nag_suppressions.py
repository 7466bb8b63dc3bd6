"""Every cdk-nag (AwsSolutions) finding we accept, with the reason. Reviewed as one file.

Each acknowledgement names the exact finding id (cdk-nag 3 has no prefix matching) and the
construct it applies to, so a new finding anywhere else still fails the synth. An
acknowledgement whose construct no longer exists raises: stale entries cannot pile up.

Findings on object ARNs name the producing stack's output (cross-stack references are
``Fn::GetStackOutput``); the output names are derived by CDK from the bucket's logical ID, so
renaming a bucket construct changes them and the nag test prints the new id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

FUNCTIONS = ("Query", "Ingest", "Backup")
#: Outputs of the storage stack that the Api stack's object-level grants reference.
DOCUMENTS_ARN_OUTPUT = "PublishOutputFnGetAttDocumentsBucket089EA665ArnF55A1D42"
BACKUPS_ARN_OUTPUT = "PublishOutputFnGetAttBackupsBucket2936A3AAArn6713D1E4"


@dataclass(frozen=True)
class NagAcknowledgement:
    """One accepted finding: which stack (by role), which construct path in it, and why."""

    stack: str
    path: str
    finding: str
    reason: str
    #: True for constructs that only some context flags create (e.g. the dev profile's NAT instance).
    optional: bool = False


def _objects_in(storage_stack: str, output: str) -> str:
    ref = {"Fn::GetStackOutput": {"StackName": storage_stack, "Region": {"Ref": "AWS::Region"}, "OutputName": output}}
    return f"AwsSolutions-IAM5[Resource::{json.dumps(ref, separators=(',', ':'))}/*]"


REASON_BASIC_EXECUTION = (
    "AWSLambdaBasicExecutionRole only allows writing the function's own CloudWatch logs; it is the "
    "AWS-maintained minimum for any Lambda function."
)
REASON_VPC_EXECUTION = (
    "AWSLambdaVPCAccessExecutionRole lets Lambda manage the ENIs of a VPC-bound function; the EC2 "
    "network-interface actions do not support resource-level permissions, so a custom policy "
    "would be exactly as broad."
)
REASON_S3_ACTION_GROUPS = (
    "CDK's grant_read/grant_read_write action groups (GetObject*, GetBucket*, List*, DeleteObject*, "
    "Abort*) cover the version, tagging and multipart variants a versioned bucket needs; every "
    "statement is scoped to one bucket and its objects."
)
REASON_KMS_ACTION_GROUPS = (
    "GenerateDataKey*/ReEncrypt* are required to write SSE-KMS objects; the statement is scoped to "
    "the single data key of the documents/backups buckets."
)
REASON_DOCUMENT_OBJECTS = (
    "The function works on any document object in the documents bucket (users choose the keys, "
    "<collection>/<file>); access is limited to that bucket."
)
REASON_BACKUP_OBJECTS = (
    "The backup function writes and prunes hourly/ and daily/ snapshots anywhere in the backups "
    "bucket; access is limited to that bucket."
)


def _function_acknowledgements(storage: str) -> Iterator[NagAcknowledgement]:
    basic = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
    vpc = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]"
    for fn in FUNCTIONS:
        yield NagAcknowledgement("Api", f"{fn}/Function/ServiceRole", basic, REASON_BASIC_EXECUTION)
        yield NagAcknowledgement("Api", f"{fn}/Function/ServiceRole", vpc, REASON_VPC_EXECUTION)
        yield NagAcknowledgement(
            "Api",
            f"{fn}/Function",
            "AwsSolutions-L1",
            "Pinned to Python 3.12 on purpose: the dependency and model layers are built from cp312 "
            "manylinux wheels (make layers); the runtime moves together with the layer build.",
        )
    read_actions = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
    write_actions = ("s3:DeleteObject*", "s3:Abort*")
    kms_actions = ("kms:GenerateDataKey*", "kms:ReEncrypt*")
    grants = {
        "Query": (read_actions, (), DOCUMENTS_ARN_OUTPUT, REASON_DOCUMENT_OBJECTS),
        "Ingest": (read_actions, (), DOCUMENTS_ARN_OUTPUT, REASON_DOCUMENT_OBJECTS),
        "Backup": (read_actions + write_actions, kms_actions, BACKUPS_ARN_OUTPUT, REASON_BACKUP_OBJECTS),
    }
    for fn, (s3_actions, key_actions, output, objects_reason) in grants.items():
        policy = f"{fn}/Function/ServiceRole/DefaultPolicy"
        for action in s3_actions:
            yield NagAcknowledgement("Api", policy, f"AwsSolutions-IAM5[Action::{action}]", REASON_S3_ACTION_GROUPS)
        for action in key_actions:
            yield NagAcknowledgement("Api", policy, f"AwsSolutions-IAM5[Action::{action}]", REASON_KMS_ACTION_GROUPS)
        yield NagAcknowledgement("Api", policy, _objects_in(storage, output), objects_reason)


def _reconcile_acknowledgements() -> Iterator[NagAcknowledgement]:
    """The reconcile function: the same Lambda baseline as the others, and no wildcard grants."""
    role = "Function/Reconcile/Function/ServiceRole"
    yield NagAcknowledgement(
        "Reconcile", role, _managed_policy("service-role/AWSLambdaBasicExecutionRole"), REASON_BASIC_EXECUTION
    )
    yield NagAcknowledgement(
        "Reconcile", role, _managed_policy("service-role/AWSLambdaVPCAccessExecutionRole"), REASON_VPC_EXECUTION
    )
    yield NagAcknowledgement(
        "Reconcile",
        "Function/Reconcile/Function",
        "AwsSolutions-L1",
        "Pinned to Python 3.12 like the other functions: it mounts the cp312 dependency layer.",
    )


def _managed_policy(name: str) -> str:
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"


def _eks_acknowledgements() -> Iterator[NagAcknowledgement]:
    """The EKS fallback: roles and the kubectl provider are shaped by EKS and aws_eks_v2."""
    cluster = "Kubernetes/Cluster"
    for policy in (
        "AmazonEKSClusterPolicy",
        "AmazonEKSComputePolicy",
        "AmazonEKSBlockStoragePolicy",
        "AmazonEKSLoadBalancingPolicy",
        "AmazonEKSNetworkingPolicy",
    ):
        yield NagAcknowledgement(
            "Eks",
            f"{cluster}/Role",
            _managed_policy(policy),
            "EKS Auto Mode requires these AWS-managed policies on the cluster role (documented "
            "prerequisite); AWS updates them as Auto Mode gains features.",
        )
    for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"):
        yield NagAcknowledgement(
            "Eks",
            f"{cluster}/ClusternodePoolRole",
            _managed_policy(policy),
            "The standard Auto Mode node role: join the cluster and pull images from ECR.",
        )
    provider = f"{cluster}/KubectlProvider"
    reason_provider = (
        "aws_eks_v2's kubectl provider (applies the manifests at deploy time); its role and runtime are "
        "set by CDK, it runs in the cluster's private subnets and is only invoked by CloudFormation."
    )
    for policy in (
        "service-role/AWSLambdaBasicExecutionRole",
        "service-role/AWSLambdaVPCAccessExecutionRole",
        "AmazonEC2ContainerRegistryReadOnly",
    ):
        yield NagAcknowledgement("Eks", f"{provider}/Handler/ServiceRole", _managed_policy(policy), reason_provider)
    yield NagAcknowledgement(
        "Eks",
        f"{provider}/Handler/ServiceRole",
        'AwsSolutions-IAM4[Policy::{"Fn::If":["KubernetesClusterKubectlProviderHandlerHasEcrPublicB617B491",'
        '{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},'
        '":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}]',
        reason_provider,
    )
    yield NagAcknowledgement("Eks", f"{provider}/Handler", "AwsSolutions-L1", reason_provider)
    for policy in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole"):
        yield NagAcknowledgement(
            "Eks", f"{provider}/Provider/framework-onEvent/ServiceRole", _managed_policy(policy), reason_provider
        )
    yield NagAcknowledgement(
        "Eks",
        f"{provider}/Provider/framework-onEvent/ServiceRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<KubernetesClusterKubectlProviderHandlerF916491E.Arn>:*]",
        "The custom-resource framework may invoke any version of the kubectl handler function (ARN:*).",
    )
    yield from _eks_data_acknowledgements()


def _eks_data_acknowledgements() -> Iterator[NagAcknowledgement]:
    """The EKS fallback's own secrets, buckets and pod role (eks_data.py)."""
    for name in ("api-keys", "jwt", "chroma-token", "redis-password"):
        yield NagAcknowledgement(
            "Eks",
            f"Kubernetes/Data/Secret-{name}/Resource",
            "AwsSolutions-SMG4",
            "Generated credentials shared by in-cluster services; rotating one means restarting the pods "
            "that read it at start-up, which a rotation Lambda cannot do. Rotate by updating the secret and "
            "running kubectl rollout restart (documented in the README).",
        )
    bucket_reason = (
        "grant_read/grant_read_write on the EKS fallback's own documents (read) and backups (read/write) "
        "buckets: object-level wildcards under those two buckets and CDK's grouped S3 actions, nothing wider."
    )
    for finding in (
        "Action::s3:GetBucket*",
        "Action::s3:GetObject*",
        "Action::s3:List*",
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        "Resource::<KubernetesDataDocumentsE39976D6.Arn>/*",
        "Resource::<KubernetesDataBackups2BE82D33.Arn>/*",
    ):
        yield NagAcknowledgement(
            "Eks", "Kubernetes/Data/PodRole/DefaultPolicy/Resource", f"AwsSolutions-IAM5[{finding}]", bucket_reason
        )
    yield NagAcknowledgement(
        "Eks",
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role/Resource",
        _managed_policy("service-role/AWSLambdaBasicExecutionRole"),
        "CDK's bucket-notification custom resource (configures S3 -> SQS at deploy time); its role is set by CDK.",
    )


NAT_INSTANCE = "Network/Vpc/publicSubnet1/NatInstance/Resource"


def _option_acknowledgements() -> Iterator[NagAcknowledgement]:
    """Findings raised only by cost options (``egress=nat_instance``, ``cache_replicas=0``)."""
    yield NagAcknowledgement(
        "Network",
        NAT_INSTANCE,
        "AwsSolutions-EC28",
        "egress=nat_instance (dev profile) is a cost option: detailed monitoring would add about $2/month "
        "of metrics to a $3/month instance; basic 5-minute EC2 metrics are enough for a dev NAT.",
        optional=True,
    )
    yield NagAcknowledgement(
        "Network",
        NAT_INSTANCE,
        "AwsSolutions-EC29",
        "The dev NAT instance is replaced, not repaired: CloudFormation owns its lifecycle, and termination "
        "protection would make `cdk destroy` of a retain_on_delete=false dev stack fail.",
        optional=True,
    )
    yield NagAcknowledgement(
        "Cache",
        "Cache/ReplicationGroup",
        "AwsSolutions-AEC4",
        "Raised only when cache_replicas=0 (the dev profile): a single node is the explicit cost choice, and "
        "the cache holds no durable data (query/embedding cache and rate-limit counters, rebuilt on a miss).",
    )


def acknowledgements(stack_names: Mapping[str, str]) -> list[NagAcknowledgement]:
    """All acknowledgements; ``stack_names`` maps stack roles to deployed names (for references)."""
    return [
        *_function_acknowledgements(stack_names["Storage"]),
        *_eks_acknowledgements(),
        *_option_acknowledgements(),
        *_reconcile_acknowledgements(),
        NagAcknowledgement(
            "Api",
            "Http/Api/DefaultRoute",
            "AwsSolutions-APIG4",
            "Authentication is enforced in the application, which fails closed in production: API keys "
            "(X-API-Key, scoped per collection) and JWTs are checked against secrets read at run time. "
            "HTTP APIs have no API-key authorizer; stage throttling bounds unauthenticated traffic.",
        ),
        NagAcknowledgement(
            "Storage",
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's built-in handler that configures the S3 -> SQS notification at deploy time; it only "
            "writes its own logs with this policy.",
        ),
        *(
            NagAcknowledgement(
                "Storage",
                f"Secrets/{name}",
                "AwsSolutions-SMG4",
                "Rotation needs coordinated consumers and is a documented manual runbook (cdk/README.md): "
                "API keys are handed to clients (add the new key, then retire the old), the ElastiCache "
                "AUTH token rotates with its ROTATE/SET strategy, the Chroma token needs an ECS redeploy.",
            )
            for name in ("ApiKeys", "JwtSecret", "ChromaAuthToken", "RedisAuthToken")
        ),
        NagAcknowledgement(
            "VectorStore",
            "Chroma/Task/ExecutionRole/DefaultPolicy",
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions (AWS requires '*'); the image "
            "pull actions in the same policy are scoped to the CDK asset repository.",
        ),
    ]


def _find(stack: Stack, path: str) -> IConstruct:
    node: IConstruct = stack
    for part in filter(None, path.split("/")):
        child = node.node.try_find_child(part)
        if child is None:
            raise KeyError(f"nag acknowledgement targets {stack.stack_name}/{path}, which does not exist")
        node = child
    return node


def _exists(stack: Stack, path: str) -> bool:
    try:
        _find(stack, path)
    except KeyError:
        return False
    return True


def acknowledge_findings(stacks: Mapping[str, Stack]) -> None:
    """Attach every acknowledgement to its construct (``stacks`` maps role -> stack)."""
    names = {role: stack.stack_name for role, stack in stacks.items()}
    for ack in acknowledgements(names):
        stack = stacks.get(ack.stack)
        if stack is None:
            continue
        if ack.optional and not _exists(stack, ack.path):
            continue
        Validations.of(_find(stack, ack.path)).acknowledge(Acknowledgment(id=ack.finding, reason=ack.reason))
