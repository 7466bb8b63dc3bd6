"""Deployment options: profile, egress, existing VPC, retain_on_delete; synth works for every combination.

Each valid combination is synthesized with cdk-nag on (an unacknowledged finding fails the synth)
and checked for what the flags promise; each invalid one must be refused with a SettingsError
before any construct exists.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from cdk_helpers import Synthesized, cfn_lint_errors
from conftest import REPO_ROOT
from knowledgebeast_cdk.app_builder import load_cdk_json_context
from knowledgebeast_cdk.settings import PROFILE_DEFAULTS, DeploymentSettings, SettingsError

SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
EXISTING_VPC: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "vpc_subnet_ids": ",".join(SUBNETS),
    "vpc_availability_zones": "eu-west-1a,eu-west-1b",
    "vpc_route_table_ids": "rtb-0aaaaaaaaaaaaaaaa,rtb-0bbbbbbbbbbbbbbbb",
}
COMBINATIONS = list(
    itertools.product(["production", "dev"], ["endpoints", "nat", "nat_instance"], ["new", "existing"], [True, False])
)
INTERFACE_ENDPOINTS = 5


def _context(profile: str, egress: str, vpc: str, retain: bool) -> dict[str, Any]:
    context: dict[str, Any] = {"profile": profile, "egress": egress, "retain_on_delete": str(retain).lower()}
    return {**context, **EXISTING_VPC} if vpc == "existing" else context


def _count(synth: Synthesized, role: str, resource_type: str) -> int:
    return len(synth.resources(role, resource_type))


def _interface_endpoints(synth: Synthesized) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in synth.resources("Network", "AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType") == "Interface"
    ]


def _deletion_policies(synth: Synthesized) -> dict[str, str]:
    return {
        f"{role}/{name}": resource["DeletionPolicy"]
        for role, template in synth.templates.items()
        for name, resource in template["Resources"].items()
        if "DeletionPolicy" in resource
    }


def _check_egress(synth: Synthesized, settings: DeploymentSettings) -> None:
    subnets_per_endpoint = len(settings.vpc_subnet_ids) if settings.vpc_id else settings.max_azs
    endpoints = _interface_endpoints(synth)
    if settings.egress == "endpoints":
        assert len(endpoints) == INTERFACE_ENDPOINTS
        assert all(len(e["SubnetIds"]) == subnets_per_endpoint for e in endpoints)
    else:
        assert endpoints == []
    expected_nat_gateways = 1 if settings.egress == "nat" and settings.vpc_id is None else 0
    assert _count(synth, "Network", "AWS::EC2::NatGateway") == expected_nat_gateways
    assert _count(synth, "Network", "AWS::EC2::Instance") == (1 if settings.egress == "nat_instance" else 0)


def _check_vpc(synth: Synthesized, settings: DeploymentSettings) -> None:
    assert _count(synth, "Network", "AWS::EC2::VPC") == (0 if settings.vpc_id else 1)
    query = next(r for n, r in synth.resources("Api", "AWS::Lambda::Function").items() if n.startswith("QueryFunction"))
    subnet_ids = query["Properties"]["VpcConfig"]["SubnetIds"]
    if settings.vpc_id:
        assert subnet_ids == SUBNETS
        (group,) = synth.resources("Cache", "AWS::ElastiCache::SubnetGroup").values()
        assert group["Properties"]["SubnetIds"] == SUBNETS
    else:
        assert len(subnet_ids) == settings.max_azs


def _check_retention(synth: Synthesized, settings: DeploymentSettings) -> None:
    policies = _deletion_policies(synth)
    kept = {name: policy for name, policy in policies.items() if policy in ("Retain", "Snapshot")}
    auto_delete = _count(synth, "Storage", "Custom::S3AutoDeleteObjects")
    if settings.retain_on_delete:
        data = ("Storage/DocumentsBucket", "Storage/BackupsBucket", "Storage/DataKey", "Storage/SecretsApiKeys")
        for prefix in (*data, "VectorStore/StorageFileSystem"):
            assert any(name.startswith(prefix) and policy == "Retain" for name, policy in kept.items()), prefix
        assert any(name.startswith("Cache/CacheReplicationGroup") and p == "Snapshot" for name, p in kept.items())
        assert auto_delete == 0
    else:
        assert kept == {}, "retain_on_delete=false must leave nothing behind"
        assert auto_delete == 3  # documents, backups, access logs: emptied before deletion


def _check_profile(synth: Synthesized, settings: DeploymentSettings) -> None:
    (service,) = synth.resources("VectorStore", "AWS::ECS::Service").values()
    strategy = service["Properties"].get("CapacityProviderStrategy")
    (group,) = synth.resources("Cache", "AWS::ElastiCache::ReplicationGroup").values()
    (task,) = synth.resources("VectorStore", "AWS::ECS::TaskDefinition").values()
    if settings.profile == "dev":
        assert strategy == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
        assert "LaunchType" not in service["Properties"]
        assert (group["Properties"]["NumCacheClusters"], group["Properties"]["CacheNodeType"]) == (1, "cache.t4g.micro")
        assert (task["Properties"]["Cpu"], task["Properties"]["Memory"]) == ("512", "1024")
    else:
        assert strategy is None and service["Properties"]["LaunchType"] == "FARGATE"
        assert group["Properties"]["NumCacheClusters"] == 2


@pytest.mark.parametrize(("profile", "egress", "vpc", "retain"), COMBINATIONS)
def test_every_flag_combination_synthesizes_or_is_refused(
    synth_with: Any, profile: str, egress: str, vpc: str, retain: bool
) -> None:
    context = _context(profile, egress, vpc, retain)
    if vpc == "existing" and egress == "nat_instance":
        with pytest.raises(SettingsError, match="nat_instance"):
            DeploymentSettings.from_mapping(context)
        return
    settings = DeploymentSettings.from_mapping(context)
    synth = synth_with(context)  # cdk-nag runs inside: an unacknowledged finding raises here
    _check_egress(synth, settings)
    _check_vpc(synth, settings)
    _check_retention(synth, settings)
    _check_profile(synth, settings)
    for role in ("Api",):
        for name, function in synth.resources(role, "AWS::Lambda::Function").items():
            assert "ReservedConcurrentExecutions" not in function["Properties"], name


def test_nat_instance_has_an_encrypted_root_volume_and_forwards_only_from_the_vpc(synth_with: Any) -> None:
    synth = synth_with({"profile": "dev"})
    (instance,) = synth.resources("Network", "AWS::EC2::Instance").values()
    props = instance["Properties"]
    assert props["SourceDestCheck"] is False
    assert props["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    ingress = [
        rule
        for group in synth.resources("Network", "AWS::EC2::SecurityGroup").values()
        if "NAT" in json.dumps(group["Properties"].get("GroupDescription", "")).upper()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    assert [rule["CidrIp"] for rule in ingress] == ["10.42.0.0/16"]


def test_reserved_concurrency_is_an_opt_in(synth_with: Any) -> None:
    synth = synth_with({"ingest_reserved_concurrency": 2, "backup_reserved_concurrency": 1})
    reserved = {
        name.split("Function")[0]: r["Properties"].get("ReservedConcurrentExecutions")
        for name, r in synth.resources("Api", "AWS::Lambda::Function").items()
    }
    assert reserved == {"Query": None, "Ingest": 2, "Backup": 1}


def test_explicit_context_beats_the_profile() -> None:
    settings = DeploymentSettings.from_mapping({"profile": "dev", "max_azs": "2", "retain_on_delete": "true"})
    assert (settings.max_azs, settings.retain_on_delete) == (2, True)
    assert settings.cache_replicas == 0  # still from the profile


def test_dev_profile_in_an_existing_vpc_uses_the_vpcs_egress() -> None:
    settings = DeploymentSettings.from_mapping({"profile": "dev", **EXISTING_VPC, "vpc_route_table_ids": ""})
    assert settings.egress == "nat"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"vpc_subnet_ids": "subnet-1"}, "need vpc_id"),
        ({"vpc_id": "vpc-1"}, "vpc_subnet_ids"),
        ({**EXISTING_VPC, "vpc_availability_zones": "eu-west-1a"}, "AZ of each subnet"),
        ({**EXISTING_VPC, "vpc_availability_zones": "eu-west-1a,eu-west-1a"}, "one subnet per AZ"),
        ({**EXISTING_VPC, "egress": "endpoints", "vpc_route_table_ids": ""}, "vpc_route_table_ids"),
    ],
)
def test_incomplete_existing_vpc_is_refused(context: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        DeploymentSettings.from_mapping(context)


def test_cdk_json_does_not_mask_any_profile_value() -> None:
    """cdk.json context reaches the app like -c flags: a key there would override every profile."""
    context = load_cdk_json_context(REPO_ROOT / "cdk.json")
    profile_keys = {key for values in PROFILE_DEFAULTS.values() for key in values}
    assert profile_keys.isdisjoint(context), sorted(profile_keys & set(context))


def test_cfn_lint_accepts_the_option_templates(synth_with: Any) -> None:
    """The templates that differ from the default (dev, NAT gateway, existing VPC) lint clean too."""
    variants = [{"profile": "dev"}, {"egress": "nat"}, {**EXISTING_VPC, "egress": "endpoints"}]
    templates = [
        str(synth_with(context).outdir / f"{stack}.template.json")
        for context in variants
        for stack in ("KnowledgeBeast-Network", "KnowledgeBeast-Storage", "KnowledgeBeast-VectorStore")
    ]
    errors = cfn_lint_errors(templates)
    assert not errors, "\n".join(errors)
