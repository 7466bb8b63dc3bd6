"""Network: an isolated VPC, the AWS service endpoints it needs, and every security group.

No NAT gateway and no internet gateway: Lambdas, Chroma (ECS Fargate) and the cache reach AWS
APIs through VPC endpoints only, so nothing in the VPC can call the internet. Fargate pulls the
Chroma image through the ECR endpoints plus the S3 gateway (image layers live in S3).

All security groups and their rules live in this stack so other stacks only *use* them, which
keeps cross-stack references one-way (no dependency cycles).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Interface endpoints and why each is needed (gateway endpoint for S3 is added separately).
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    # Lambdas read their secrets at run time; ECS injects the Chroma token at task start.
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    # The ingest function hands failed messages back early (GetQueueUrl/ChangeMessageVisibility);
    # the event source mapping itself polls from outside the VPC.
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    # Fargate's awslogs driver ships Chroma's logs from inside the VPC.
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    # Fargate pulls the Chroma image: registry API + Docker endpoint (layers come via S3).
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
}


class IsolatedVpc(Construct):
    """A VPC with isolated subnets only, flow logs, and an S3 gateway endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int,
        flow_log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.42.0.0/16"),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class ServiceSecurityGroups(Construct):
    """One security group per tier; only the Lambda tier may open connections to data stores.

    Egress is left open on the two client tiers (Lambda, Chroma): the VPC has no route to the
    internet, so "anywhere" means the VPC and the S3 gateway only, and the S3 prefix list ID
    cannot be resolved in an environment-agnostic stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        chroma_port: int,
        redis_port: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.lambdas = ec2.SecurityGroup(
            self, "Lambda", vpc=vpc, description="KnowledgeBeast Lambda functions", allow_all_outbound=True
        )
        self.chroma = ec2.SecurityGroup(
            self, "Chroma", vpc=vpc, description="ChromaDB on ECS Fargate", allow_all_outbound=True
        )
        self.redis = ec2.SecurityGroup(
            self, "Redis", vpc=vpc, description="ElastiCache (Valkey/Redis)", allow_all_outbound=False
        )
        self.efs = ec2.SecurityGroup(
            self, "Efs", vpc=vpc, description="EFS mount targets of the Chroma data volume", allow_all_outbound=False
        )
        self.endpoints = ec2.SecurityGroup(
            self, "Endpoints", vpc=vpc, description="AWS interface endpoints", allow_all_outbound=False
        )

        self.redis.add_ingress_rule(
            self.lambdas, ec2.Port.tcp(redis_port), "Redis protocol (TLS) from Lambda functions only"
        )
        self.chroma.add_ingress_rule(self.lambdas, ec2.Port.tcp(chroma_port), "Chroma proxy from Lambda functions only")
        self.efs.add_ingress_rule(self.chroma, ec2.Port.tcp(2049), "NFS from the Chroma task only")
        for client, name in ((self.lambdas, "Lambda functions"), (self.chroma, "the Chroma task")):
            self.endpoints.add_ingress_rule(client, ec2.Port.tcp(443), f"HTTPS to AWS APIs from {name}")


class ServiceEndpoints(Construct):
    """Interface endpoints with private DNS so SDKs resolve the normal AWS hostnames."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        services: dict[str, ec2.InterfaceVpcEndpointAwsService],
    ) -> None:
        super().__init__(scope, construct_id)
        for name, service in services.items():
            ec2.InterfaceVpcEndpoint(
                self,
                name,
                vpc=vpc,
                service=service,
                subnets=subnets,
                security_groups=[security_group],
                private_dns_enabled=True,
                open=False,
            )


class NetworkStack(Stack):
    """VPC, endpoints and security groups shared by every other stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int,
        chroma_port: int,
        redis_port: int,
        log_retention: logs.RetentionDays,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        network = IsolatedVpc(self, "Network", max_azs=max_azs, flow_log_retention=log_retention)
        self.vpc = network.vpc
        self.private_subnets = network.private_subnets
        self.security_groups = ServiceSecurityGroups(
            self, "SecurityGroups", vpc=self.vpc, chroma_port=chroma_port, redis_port=redis_port
        )
        ServiceEndpoints(
            self,
            "Endpoints",
            vpc=self.vpc,
            subnets=self.private_subnets,
            security_group=self.security_groups.endpoints,
            services=INTERFACE_ENDPOINTS,
        )
