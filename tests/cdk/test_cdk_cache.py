"""Cache stack: encrypted, AUTH-protected replication group with snapshots, in the private subnets."""

from __future__ import annotations

from aws_cdk import App, Stack, assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_helpers import Synthesized, find_one
from knowledgebeast_cdk.cache import ReplicatedCache


def test_replication_group_is_encrypted_authenticated_and_snapshotted(synth: Synthesized) -> None:
    _, group = find_one(synth.resources("Cache", "AWS::ElastiCache::ReplicationGroup"))
    props = group["Properties"]
    assert props["TransitEncryptionEnabled"] is True
    assert props["TransitEncryptionMode"] == "required"
    assert props["AtRestEncryptionEnabled"] is True
    assert props["SnapshotRetentionLimit"] >= 1
    assert props["SnapshotWindow"] == "03:00-04:00"
    assert props["Port"] == 6379
    assert (props["NumCacheClusters"], props["MultiAZEnabled"], props["AutomaticFailoverEnabled"]) == (2, True, True)
    assert group["DeletionPolicy"] == "Snapshot"


def test_auth_token_is_a_dynamic_reference_not_a_value(synth: Synthesized) -> None:
    _, group = find_one(synth.resources("Cache", "AWS::ElastiCache::ReplicationGroup"))
    parts = group["Properties"]["AuthToken"]["Fn::Join"][1]
    assert parts[0] == "{{resolve:secretsmanager:" and parts[-1] == ":SecretString:::}}"
    assert "RedisAuthToken" in parts[1]["Fn::GetStackOutput"]["OutputName"]


def test_uses_the_network_stack_security_group(synth: Synthesized) -> None:
    _, group = find_one(synth.resources("Cache", "AWS::ElastiCache::ReplicationGroup"))
    (sg,) = group["Properties"]["SecurityGroupIds"]
    assert sg["Fn::GetStackOutput"]["StackName"] == synth.stacks.network.stack_name
    assert "SecurityGroupsRedis" in sg["Fn::GetStackOutput"]["OutputName"]
    synth.template("Cache").resource_count_is("AWS::EC2::SecurityGroup", 0)


def test_single_node_when_no_replicas() -> None:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Bare")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0)
    ReplicatedCache(
        stack,
        "Cache",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_group=ec2.SecurityGroup(stack, "Sg", vpc=vpc),
        auth_token=secretsmanager.Secret(stack, "Token"),
        engine="redis",
        engine_version="7.1",
        node_type="cache.t4g.micro",
        replicas=0,
        port=6379,
        snapshot_retention_days=3,
        snapshot_window="01:00-02:00",
        maintenance_window="sun:03:00-sun:04:00",
    )
    assertions.Template.from_stack(stack).has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"Engine": "redis", "NumCacheClusters": 1, "MultiAZEnabled": False, "AutomaticFailoverEnabled": False},
    )
