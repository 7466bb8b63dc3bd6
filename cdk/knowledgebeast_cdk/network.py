"""Network: the VPC, how its private subnets reach AWS APIs, and every security group.

Default (``egress=endpoints``): no NAT gateway and no internet gateway: Lambdas, Chroma (ECS
Fargate) and the cache reach AWS APIs through VPC endpoints only, so nothing in the VPC can call
the internet. Fargate pulls the Chroma image through the ECR endpoints plus the S3 gateway (image
layers live in S3). ``egress=nat`` swaps the five interface endpoints (billed per AZ) for one NAT
gateway, ``egress=nat_instance`` for one small NAT instance (the dev profile); both keep the free
S3 gateway. With ``vpc_id`` the stacks go into an existing VPC described by context (no lookup).

All security groups and their rules live in this stack so other stacks only *use* them, which
keeps cross-stack references one-way (no dependency cycles).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, RemovalPolicy, Stack
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


#: CIDR of the VPC this app creates (the NAT instance forwards traffic from it).
VPC_CIDR = "10.42.0.0/16"
#: Root volume of the NAT instance (the AL2023 AMI's own size).
NAT_ROOT_VOLUME_GIB = 8


@dataclass(frozen=True)
class ExistingVpcIds:
    """What CDK needs to use an existing VPC without looking it up: ids, in subnet order."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    availability_zones: tuple[str, ...]
    route_table_ids: tuple[str, ...] = ()


def log_all_traffic(scope: Construct, vpc: ec2.Vpc, retention: logs.RetentionDays) -> None:
    """VPC flow logs (accepted and rejected traffic) into a log group owned by ``scope``."""
    flow_logs = logs.LogGroup(scope, "FlowLogs", retention=retention, removal_policy=RemovalPolicy.DESTROY)
    vpc.add_flow_log(
        "FlowLog",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
        traffic_type=ec2.FlowLogTrafficType.ALL,
    )


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
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        log_all_traffic(self, self.vpc, flow_log_retention)

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class EgressVpc(Construct):
    """Public subnets with one NAT (gateway or instance), private subnets routed through it, flow logs.

    One NAT for all AZs: it is the cost floor the option is chosen for, at the price of cross-AZ
    traffic and of losing egress from every AZ if the NAT's AZ fails.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_azs: int,
        nat_instance_type: str | None,
        flow_log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        provider = (
            ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType(nat_instance_type),
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
            )
            if nat_instance_type
            else ec2.NatProvider.gateway()
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=max_azs,
            nat_gateways=1,
            nat_gateway_provider=provider,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        if isinstance(provider, ec2.NatInstanceProviderV2):
            provider.security_group.add_ingress_rule(
                ec2.Peer.ipv4(VPC_CIDR), ec2.Port.all_traffic(), "Forward traffic from the private subnets"
            )
            for instance in provider.gateway_instances:
                encrypt_root_volume(instance)
        log_all_traffic(self, self.vpc, flow_log_retention)

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def encrypt_root_volume(instance: ec2.Instance) -> None:
    """The NAT provider exposes no block devices: give its AL2023 root volume (8 GiB gp3) encryption."""
    cfn = instance.node.default_child
    assert isinstance(cfn, ec2.CfnInstance)
    cfn.block_device_mappings = [
        ec2.CfnInstance.BlockDeviceMappingProperty(
            device_name="/dev/xvda",
            ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_size=NAT_ROOT_VOLUME_GIB, volume_type="gp3"),
        )
    ]


class ExistingVpc(Construct):
    """A VPC that already exists, from ids given as context: synthesizes offline, owns nothing.

    Its subnets are treated as private (with egress when ``egress=nat``); flow logs and routing
    stay with the VPC's owner. The S3 gateway endpoint is added only in ``endpoints`` mode, on the
    subnets' route tables.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc_id: str,
        subnet_ids: Sequence[str],
        availability_zones: Sequence[str],
        route_table_ids: Sequence[str],
        add_s3_gateway: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=vpc_id,
            availability_zones=list(availability_zones),
            private_subnet_ids=list(subnet_ids),
            private_subnet_route_table_ids=list(route_table_ids) or None,
        )
        if not route_table_ids:
            for subnet in self.vpc.private_subnets:
                Annotations.of(subnet).acknowledge_warning(
                    "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                    "egress=nat in an existing VPC: the app adds no route and no gateway endpoint",
                )
        if add_s3_gateway:
            self.vpc.add_gateway_endpoint(
                "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.private_subnets]
            )

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


class ServiceSecurityGroups(Construct):
    """One security group per tier; only the Lambda tier may open connections to data stores.

    Egress is left open on the two client tiers (Lambda, Chroma): with endpoints the VPC has no
    route to the internet, so "anywhere" means the VPC and the S3 gateway only, and the S3 prefix
    list ID cannot be resolved in an environment-agnostic stack. With a NAT, "anywhere" includes
    the internet (needed to reach AWS APIs without endpoints); ingress stays closed either way.
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
        egress: str = "endpoints",
        nat_instance_type: str = "t4g.nano",
        existing: ExistingVpcIds | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        network: IsolatedVpc | EgressVpc | ExistingVpc
        if existing is not None:
            network = ExistingVpc(
                self,
                "Network",
                vpc_id=existing.vpc_id,
                subnet_ids=existing.subnet_ids,
                availability_zones=existing.availability_zones,
                route_table_ids=existing.route_table_ids,
                add_s3_gateway=egress == "endpoints",
            )
        elif egress == "endpoints":
            network = IsolatedVpc(self, "Network", max_azs=max_azs, flow_log_retention=log_retention)
        else:
            network = EgressVpc(
                self,
                "Network",
                max_azs=max_azs,
                nat_instance_type=nat_instance_type if egress == "nat_instance" else None,
                flow_log_retention=log_retention,
            )
        self.vpc = network.vpc
        self.private_subnets = network.private_subnets
        self.security_groups = ServiceSecurityGroups(
            self, "SecurityGroups", vpc=self.vpc, chroma_port=chroma_port, redis_port=redis_port
        )
        if egress == "endpoints":
            ServiceEndpoints(
                self,
                "Endpoints",
                vpc=self.vpc,
                subnets=self.private_subnets,
                security_group=self.security_groups.endpoints,
                services=INTERFACE_ENDPOINTS,
            )
