"""EKS fallback (context ``eks=true``): the same system as Kubernetes workloads.

For teams that cannot use Lambda. It has its own VPC (EKS Auto Mode nodes need ECR, EKS, STS,
EC2 and more; one NAT gateway is simpler and cheaper than a dozen endpoints here), a private API
endpoint, all control-plane logs, and KMS envelope encryption of Kubernetes secrets.

``aws_eks_v2`` creates the cluster with native CloudFormation; applying manifests needs the
kubectl provider (a Lambda with the kubectl layer), which is why this stack alone pulls in
``aws-cdk.lambda-layer-kubectl-v36``. The manifests themselves are plain dicts from
``manifests.py``, validated offline in the tests and also written to ``cdk/manifests/``.

Both images are CDK image assets built for linux/amd64 at deploy time (Docker needed then, never
at synth): the API image from ``containers/api/Dockerfile`` (repository root as build context)
and Chroma from ``containers/chromadb``. The API is reached through EKS Auto Mode's built-in
Network Load Balancer (TLS with ``eks_tls_certificate_arn``); an operator gets kubectl through an
access entry (``eks_operator_principal_arn``) and, with ``eks_endpoint_cidrs``, a public endpoint
limited to those addresses. Pods get AWS credentials from EKS Pod Identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from knowledgebeast_cdk.eks_data import EksData
from knowledgebeast_cdk.manifest_parts import SERVICE_ACCOUNT
from knowledgebeast_cdk.manifests import ManifestSettings, all_manifests
from knowledgebeast_cdk.settings import DeploymentSettings


@dataclass(frozen=True)
class EksOptions:
    """The ``eks_*`` context values (see settings.py)."""

    operator_principal_arn: str | None = None
    endpoint_cidrs: tuple[str, ...] = ()
    tls_certificate_arn: str | None = None
    load_balancer_scheme: str = "internet-facing"
    api_replicas: int = 2
    api_workers: int = 2
    ingest_workers: int = 1


def eks_options(settings: DeploymentSettings) -> EksOptions:
    return EksOptions(
        operator_principal_arn=settings.eks_operator_principal_arn,
        endpoint_cidrs=settings.eks_endpoint_cidrs,
        tls_certificate_arn=settings.eks_tls_certificate_arn,
        load_balancer_scheme=settings.eks_load_balancer_scheme,
        api_replicas=settings.eks_api_replicas,
        api_workers=settings.eks_api_workers,
        ingest_workers=settings.eks_ingest_workers,
    )


class EksNetwork(Construct):
    """Public subnets for the NAT gateway and load balancers, private ones for nodes."""

    def __init__(
        self, scope: Construct, construct_id: str, *, max_azs: int, flow_log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.43.0.0/16"),
            max_azs=max(2, max_azs),
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
            ],
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        # Auto Mode picks load balancer subnets by these tags (internet-facing: public; internal: private)
        for subnet in self.vpc.public_subnets:
            Tags.of(subnet).add("kubernetes.io/role/elb", "1")
        for subnet in self.vpc.private_subnets:
            Tags.of(subnet).add("kubernetes.io/role/internal-elb", "1")


class KnowledgeBeastCluster(Construct):
    """An EKS Auto Mode cluster with a private endpoint and the application manifests applied."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        chroma_image_directory: Path,
        api_image: str,
        options: EksOptions,
    ) -> None:
        super().__init__(scope, construct_id)
        # Imported lazily: the layer package is only required when the EKS flag is on.
        from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer

        secrets_key = kms.Key(self, "SecretsKey", description="KnowledgeBeast EKS secrets", enable_key_rotation=True)
        endpoint = (
            eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*options.endpoint_cidrs)
            if options.endpoint_cidrs
            else eks.EndpointAccess.PRIVATE
        )
        self.cluster = eks.Cluster(
            self,
            "Cluster",
            version=eks.KubernetesVersion.V1_36,
            vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=endpoint,
            default_capacity_type=eks.DefaultCapacityType.AUTOMODE,
            secrets_encryption_key=secrets_key,
            cluster_logging=[
                eks.ClusterLoggingTypes.API,
                eks.ClusterLoggingTypes.AUDIT,
                eks.ClusterLoggingTypes.AUTHENTICATOR,
                eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                eks.ClusterLoggingTypes.SCHEDULER,
            ],
            kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(self, "Kubectl")),
        )
        if options.operator_principal_arn:
            self.cluster.grant_access(
                "OperatorAccess",
                options.operator_principal_arn,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
        self.chroma_image = ecr_assets.DockerImageAsset(
            self,
            "ChromaImage",
            directory=str(chroma_image_directory),
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        if not api_image:
            # the repository root is the build context; its .dockerignore keeps the context small
            api_asset = ecr_assets.DockerImageAsset(
                self,
                "ApiImage",
                directory=str(chroma_image_directory.parents[1]),
                file="containers/api/Dockerfile",
                platform=ecr_assets.Platform.LINUX_AMD64,
            )
            api_image = api_asset.image_uri
        self.data = EksData(self, "Data")
        settings = ManifestSettings(
            api_image=api_image,
            chroma_image=self.chroma_image.image_uri,
            api_replicas=options.api_replicas,
            api_workers=options.api_workers,
            ingest_workers=options.ingest_workers,
            load_balancer_scheme=options.load_balancer_scheme,
            tls_certificate_arn=options.tls_certificate_arn,
            aws_region=Stack.of(self).region,
            ingest_queue_url=self.data.queue.queue_url,
            backup_bucket=self.data.backups.bucket_name,
            api_keys_secret_arn=self.data.secrets["api-keys"].secret_arn,
            jwt_secret_arn=self.data.secrets["jwt"].secret_arn,
            chroma_token_secret_arn=self.data.secrets["chroma-token"].secret_arn,
            redis_password_secret_arn=self.data.secrets["redis-password"].secret_arn,
        )
        self.data.pod_role(self.cluster.cluster_name, settings.namespace, SERVICE_ACCOUNT)
        self.manifest = self.cluster.add_manifest("KnowledgeBeast", *all_manifests(settings))


class EksFallbackStack(Stack):
    """Stand-alone EKS deployment of API + ingest worker + backup + Chroma + Valkey."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int,
        chroma_image_directory: Path,
        api_image: str,
        log_retention: logs.RetentionDays,
        options: EksOptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        network = EksNetwork(self, "Network", max_azs=max_azs, flow_log_retention=log_retention)
        kubernetes = KnowledgeBeastCluster(
            self,
            "Kubernetes",
            vpc=network.vpc,
            chroma_image_directory=chroma_image_directory,
            api_image=api_image,
            options=options or EksOptions(),
        )
        self.cluster = kubernetes.cluster
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name, description="aws eks update-kubeconfig --name")
        CfnOutput(self, "DocumentsBucketName", value=kubernetes.data.documents.bucket_name)
        CfnOutput(self, "BackupBucketName", value=kubernetes.data.backups.bucket_name)
        CfnOutput(self, "ApiKeysSecretArn", value=kubernetes.data.secrets["api-keys"].secret_arn)
