"""Cache: an ElastiCache replication group (Valkey by default, Redis OSS optional).

TLS in transit is *required* (clients must set REDIS_SSL=true), data is encrypted at rest, and
connections need the AUTH token kept in Secrets Manager. CloudFormation receives the token as a
dynamic reference, so its value never appears in the template. Daily snapshots are kept for a
configurable number of days and a final snapshot is taken when the stack is deleted.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class ReplicatedCache(Construct):
    """Primary + replicas across AZs with automatic failover (single node when replicas=0)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        auth_token: secretsmanager.ISecret,
        engine: str,
        engine_version: str,
        node_type: str,
        replicas: int,
        port: int,
        snapshot_retention_days: int,
        snapshot_window: str,
        maintenance_window: str,
    ) -> None:
        super().__init__(scope, construct_id)
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="KnowledgeBeast cache (private subnets)",
            subnet_ids=vpc.select_subnets(
                subnet_type=subnets.subnet_type, subnet_group_name=subnets.subnet_group_name
            ).subnet_ids,
        )
        replicated = replicas > 0
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="KnowledgeBeast query/embedding cache",
            engine=engine,
            engine_version=engine_version,
            cache_node_type=node_type,
            num_cache_clusters=1 + replicas,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[security_group.security_group_id],
            port=port,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            auth_token=auth_token.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=snapshot_retention_days,
            snapshot_window=snapshot_window,
            preferred_maintenance_window=maintenance_window,
            auto_minor_version_upgrade=True,
        )
        self.replication_group.apply_removal_policy(RemovalPolicy.SNAPSHOT)

    @property
    def primary_host(self) -> str:
        return self.replication_group.attr_primary_end_point_address


class CacheStack(Stack):
    """The ElastiCache replication group in the VPC's private subnets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        auth_token: secretsmanager.ISecret,
        engine: str,
        engine_version: str,
        node_type: str,
        replicas: int,
        port: int,
        snapshot_retention_days: int,
        snapshot_window: str,
        maintenance_window: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cache = ReplicatedCache(
            self,
            "Cache",
            vpc=vpc,
            subnets=subnets,
            security_group=security_group,
            auth_token=auth_token,
            engine=engine,
            engine_version=engine_version,
            node_type=node_type,
            replicas=replicas,
            port=port,
            snapshot_retention_days=snapshot_retention_days,
            snapshot_window=snapshot_window,
            maintenance_window=maintenance_window,
        )
        self.replication_group = cache.replication_group
        self.primary_host = cache.primary_host
