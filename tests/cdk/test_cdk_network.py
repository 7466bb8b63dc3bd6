"""Network stack: isolated subnets, endpoints instead of NAT, and data stores reachable only from Lambda."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_helpers import Synthesized

LAMBDA_SG = "KnowledgeBeast Lambda functions"


def _group_id(template: dict[str, Any], description: str) -> str:
    matches = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup" and resource["Properties"]["GroupDescription"] == description
    ]
    assert len(matches) == 1, f"security group {description!r}: {matches}"
    return matches[0]


def _ingress_to(template: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """Every ingress rule of a group: inline ones and standalone AWS::EC2::SecurityGroupIngress."""
    inline = template["Resources"][group]["Properties"].get("SecurityGroupIngress", [])
    standalone = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress"
        and resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    ]
    return [*inline, *standalone]


@pytest.mark.parametrize(
    ("description", "port"),
    [("ElastiCache (Valkey/Redis)", 6379), ("ChromaDB on ECS Fargate", 8000)],
)
def test_data_stores_accept_only_the_lambda_security_group(synth: Synthesized, description: str, port: int) -> None:
    template = synth.templates["Network"]
    lambda_group = _group_id(template, LAMBDA_SG)
    rules = _ingress_to(template, _group_id(template, description))
    assert rules, f"{description} has no ingress rule at all"
    for rule in rules:
        assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": [lambda_group, "GroupId"]}
        assert rule.get("CidrIp") is None and rule.get("CidrIpv6") is None
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)


def test_efs_accepts_nfs_from_chroma_only(synth: Synthesized) -> None:
    template = synth.templates["Network"]
    chroma = _group_id(template, "ChromaDB on ECS Fargate")
    rules = _ingress_to(template, _group_id(template, "EFS mount targets of the Chroma data volume"))
    assert [(r["SourceSecurityGroupId"], r["FromPort"]) for r in rules] == [({"Fn::GetAtt": [chroma, "GroupId"]}, 2049)]


def test_no_security_group_is_open_to_the_internet(synth: Synthesized) -> None:
    for role, template in synth.templates.items():
        for name, resource in template["Resources"].items():
            rules = []
            if resource["Type"] == "AWS::EC2::SecurityGroup":
                rules = resource["Properties"].get("SecurityGroupIngress", [])
            elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
                rules = [resource["Properties"]]
            for rule in rules:
                assert rule.get("CidrIp") not in ("0.0.0.0/0",), f"{role}/{name} is open to the world"


def test_vpc_has_no_nat_and_only_isolated_subnets(synth: Synthesized) -> None:
    template = synth.template("Network")
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::Subnet", 2)
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


def test_endpoints_cover_what_lambdas_and_fargate_call(synth: Synthesized) -> None:
    endpoints = synth.resources("Network", "AWS::EC2::VPCEndpoint")
    services = set()
    for resource in endpoints.values():
        name = resource["Properties"]["ServiceName"]
        services.add(name["Fn::Join"][1][-1] if isinstance(name, dict) else name.rsplit(".", 1)[-1])
    kinds = {resource["Properties"].get("VpcEndpointType", "Gateway") for resource in endpoints.values()}
    assert kinds == {"Gateway", "Interface"}
    assert {".s3", ".secretsmanager", ".sqs", ".logs", ".ecr.api", ".ecr.dkr"} <= services
