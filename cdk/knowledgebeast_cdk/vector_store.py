"""Vector store: one ChromaDB task on ECS Fargate, data on EFS, reachable by Cloud Map DNS only.

Chroma is a single-writer store, so exactly one task may run at any time: desired count 1, a
deployment that stops the old task before starting the new one (min 0 % / max 100 %), no AZ
rebalancing, and, for whatever slips past those (a manual scale-up, a second service on the
retained file system), the entrypoint's exclusive lock on the data directory: a second writer
waits for it, then refuses to start. The price is a short unavailability window per deploy,
which the query path reports as 503.

EFS (not ECS-managed EBS) holds the data: an EBS volume that ECS creates for a task is deleted
or detached with that task, so the index would be lost on every task replacement unless it is
restored from a snapshot. EFS survives task replacement, spans AZs (the task may restart in any
AZ), and is RETAINed when the stack is deleted. See cdk/README.md for the trade-off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

#: UID/GID of the non-root user baked into containers/chromadb/Dockerfile.
CHROMA_UID = "10001"
CHROMA_DATA_PATH = "/data"
#: Same command as the Dockerfile HEALTHCHECK: a script of bash built-ins the image copies in (the
#: base image has no curl). tests/rehearsal runs both strings against the real entrypoint.
CHROMA_HEALTH_CHECK = ["CMD", "knowledgebeast-chroma-healthcheck"]
#: Grace before failed checks count; sized from a measured index load time (containers/chromadb/README.md).
CHROMA_START_PERIOD = Duration.seconds(60)


class ChromaFileSystem(Construct):
    """Encrypted EFS with one access point that maps every client to the Chroma user."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=vpc,
            vpc_subnets=subnets,
            security_group=security_group,
            encrypted=True,
            enable_automatic_backups=True,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            throughput_mode=efs.ThroughputMode.ELASTIC,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_point = self.file_system.add_access_point(
            "Chroma",
            path="/chroma",
            posix_user=efs.PosixUser(uid=CHROMA_UID, gid=CHROMA_UID),
            create_acl=efs.Acl(owner_uid=CHROMA_UID, owner_gid=CHROMA_UID, permissions="750"),
        )


class ChromaService(Construct):
    """The Fargate service running containers/chromadb (Chroma + token-checking proxy)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        file_system: efs.IFileSystem,
        access_point: efs.IAccessPoint,
        image_directory: Path,
        auth_token: secretsmanager.ISecret,
        namespace_name: str,
        service_name: str,
        port: int,
        cpu: int,
        memory_mib: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=namespace_name, vpc=vpc, description="KnowledgeBeast internal services"
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            volumes=[
                ecs.Volume(
                    name="data",
                    efs_volume_configuration=ecs.EfsVolumeConfiguration(
                        file_system_id=file_system.file_system_id,
                        transit_encryption="ENABLED",
                        authorization_config=ecs.AuthorizationConfig(
                            access_point_id=access_point.access_point_id, iam="ENABLED"
                        ),
                    ),
                ),
                # Scratch space for the proxy; the root filesystem is read-only.
                ecs.Volume(name="tmp"),
            ],
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        container = self.task_definition.add_container(
            "chroma",
            # The task runs on X86_64: build for it even on an ARM machine (else "exec format error").
            image=ecs.ContainerImage.from_asset(str(image_directory), platform=ecr_assets.Platform.LINUX_AMD64),
            port_mappings=[ecs.PortMapping(container_port=port, name="chroma")],
            # The image's proxy (and its health check) listen on PROXY_PORT, 8000 unless told otherwise.
            environment={"PROXY_PORT": str(port)} if port != 8000 else None,
            secrets={"CHROMA_AUTH_TOKEN": ecs.Secret.from_secrets_manager(auth_token)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="chroma", log_group=self.log_group),
            readonly_root_filesystem=True,
            health_check=ecs.HealthCheck(
                command=CHROMA_HEALTH_CHECK,
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=CHROMA_START_PERIOD,
            ),
            stop_timeout=Duration.seconds(60),
        )
        container.add_mount_points(
            ecs.MountPoint(container_path=CHROMA_DATA_PATH, source_volume="data", read_only=False),
            ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False),
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=1,
            min_healthy_percent=0,
            max_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            # Rebalancing starts a task in another AZ before stopping one: never for a single writer.
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.DISABLED,
            security_groups=[security_group],
            vpc_subnets=subnets,
            assign_public_ip=False,
            enable_execute_command=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            cloud_map_options=ecs.CloudMapOptions(
                cloud_map_namespace=self.namespace,
                name=service_name,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=Duration.seconds(10),
            ),
        )


class VectorStoreStack(Stack):
    """ChromaDB on Fargate + EFS, registered as ``<service>.<namespace>`` in Cloud Map."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        chroma_security_group: ec2.ISecurityGroup,
        efs_security_group: ec2.ISecurityGroup,
        auth_token: secretsmanager.ISecret,
        image_directory: Path,
        namespace_name: str,
        service_name: str,
        port: int,
        cpu: int,
        memory_mib: int,
        log_retention: logs.RetentionDays,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = ChromaFileSystem(self, "Storage", vpc=vpc, subnets=subnets, security_group=efs_security_group)
        chroma = ChromaService(
            self,
            "Chroma",
            vpc=vpc,
            subnets=subnets,
            security_group=chroma_security_group,
            file_system=storage.file_system,
            access_point=storage.access_point,
            image_directory=image_directory,
            auth_token=auth_token,
            namespace_name=namespace_name,
            service_name=service_name,
            port=port,
            cpu=cpu,
            memory_mib=memory_mib,
            log_retention=log_retention,
        )
        storage.file_system.grant_read_write(chroma.task_definition.task_role)
        self.cluster = chroma.cluster
        self.service = chroma.service
        self.file_system = storage.file_system
