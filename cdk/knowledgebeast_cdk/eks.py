"""EKS fallback (context ``eks=true``): the same system as Kubernetes workloads.

For teams that cannot use Lambda. It has its own VPC (EKS Auto Mode nodes need ECR, EKS, STS,
EC2 and more; one NAT gateway is simpler and cheaper than a dozen endpoints here), a private API
endpoint, all control-plane logs, and KMS envelope encryption of Kubernetes secrets.

``aws_eks_v2`` creates the cluster with native CloudFormation; applying manifests needs the
kubectl provider (a Lambda with the kubectl layer), which is why this stack alone pulls in
``aws-cdk.lambda-layer-kubectl-v36``. The manifests themselves are plain dicts from
``manifests.py``, validated offline in the tests and also written to ``cdk/manifests/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from knowledgebeast_cdk.manifests import ManifestSettings, all_manifests


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
    ) -> None:
        super().__init__(scope, construct_id)
        # Imported lazily: the layer package is only required when the EKS flag is on.
        from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer

        secrets_key = kms.Key(self, "SecretsKey", description="KnowledgeBeast EKS secrets", enable_key_rotation=True)
        self.cluster = eks.Cluster(
            self,
            "Cluster",
            version=eks.KubernetesVersion.V1_36,
            vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=eks.EndpointAccess.PRIVATE,
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
        self.chroma_image = ecr_assets.DockerImageAsset(
            self,
            "ChromaImage",
            directory=str(chroma_image_directory),
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        manifests = all_manifests(ManifestSettings(api_image=api_image, chroma_image=self.chroma_image.image_uri))
        self.manifest = self.cluster.add_manifest("KnowledgeBeast", *manifests)


class EksFallbackStack(Stack):
    """Stand-alone EKS deployment of API + Chroma + Redis (no dependency on the other stacks)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int,
        chroma_image_directory: Path,
        api_image: str,
        log_retention: logs.RetentionDays,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        network = EksNetwork(self, "Network", max_azs=max_azs, flow_log_retention=log_retention)
        self.cluster = KnowledgeBeastCluster(
            self,
            "Kubernetes",
            vpc=network.vpc,
            chroma_image_directory=chroma_image_directory,
            api_image=api_image,
        ).cluster
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name, description="aws eks update-kubeconfig --name")
