"""Vector store: one Chroma task, no overlapping deployments, data on retained EFS, Cloud Map only."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Stack, assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_helpers import Synthesized, find_one
from knowledgebeast_cdk.vector_store import CHROMA_HEALTH_CHECK, ChromaFileSystem, ChromaService

CHROMA_DIR = Path(__file__).resolve().parents[2] / "containers" / "chromadb"


def test_exactly_one_writer_and_no_overlap(synth: Synthesized) -> None:
    _, service = find_one(synth.resources("VectorStore", "AWS::ECS::Service"))
    props = service["Properties"]
    assert props["DesiredCount"] == 1
    assert props["DeploymentConfiguration"]["MinimumHealthyPercent"] == 0
    assert props["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert props["AvailabilityZoneRebalancing"] == "DISABLED"
    assert props["LaunchType"] == "FARGATE"
    assert props["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


def test_reachable_by_cloud_map_name_only(synth: Synthesized) -> None:
    template = synth.template("VectorStore")
    template.has_resource_properties("AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "knowledgebeast.internal"})
    template.has_resource_properties("AWS::ServiceDiscovery::Service", {"Name": "chroma"})
    template.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 0)


def test_data_lives_on_encrypted_retained_efs_via_access_point(synth: Synthesized) -> None:
    fs_name, fs = find_one(synth.resources("VectorStore", "AWS::EFS::FileSystem"))
    assert fs["Properties"]["Encrypted"] is True
    assert fs["DeletionPolicy"] == "Retain"
    _, task = find_one(synth.resources("VectorStore", "AWS::ECS::TaskDefinition"))
    volume = next(v for v in task["Properties"]["Volumes"] if v["Name"] == "data")
    efs = volume["EFSVolumeConfiguration"]
    assert efs["FilesystemId"] == {"Ref": fs_name}
    assert efs["TransitEncryption"] == "ENABLED"
    assert efs["AuthorizationConfig"]["IAM"] == "ENABLED"


def test_container_uses_token_secret_health_check_and_default_size(synth: Synthesized) -> None:
    _, task = find_one(synth.resources("VectorStore", "AWS::ECS::TaskDefinition"))
    props = task["Properties"]
    assert (props["Cpu"], props["Memory"]) == ("1024", "2048")
    (container,) = props["ContainerDefinitions"]
    assert [s["Name"] for s in container["Secrets"]] == ["CHROMA_AUTH_TOKEN"]
    assert "Environment" not in container
    assert container["ReadonlyRootFilesystem"] is True
    # No curl in the base image: the check is the script the Dockerfile copies in (tests/rehearsal runs it).
    assert container["HealthCheck"]["Command"] == CHROMA_HEALTH_CHECK
    assert container["PortMappings"][0]["ContainerPort"] == 8000


def test_cpu_and_memory_are_configurable() -> None:
    """ChromaService alone in a bare stack: sizes come straight from its arguments."""
    stack = Stack(App(builtin_cloud_formation_validation=False), "Bare")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0)
    subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    group = ec2.SecurityGroup(stack, "Sg", vpc=vpc)
    storage = ChromaFileSystem(stack, "Fs", vpc=vpc, subnets=subnets, security_group=group)
    ChromaService(
        stack,
        "Chroma",
        vpc=vpc,
        subnets=subnets,
        security_group=group,
        file_system=storage.file_system,
        access_point=storage.access_point,
        image_directory=CHROMA_DIR,
        auth_token=secretsmanager.Secret(stack, "Token"),
        namespace_name="test.internal",
        service_name="chroma",
        port=8000,
        cpu=2048,
        memory_mib=8192,
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    assertions.Template.from_stack(stack).has_resource_properties(
        "AWS::ECS::TaskDefinition", {"Cpu": "2048", "Memory": "8192"}
    )


def test_image_is_built_for_the_task_cpu(synth: Synthesized) -> None:
    """The task requires X86_64, so the asset is built for linux/amd64 even on an ARM machine."""
    import json

    (assets_file,) = synth.outdir.glob(f"{synth.stacks.by_role()['VectorStore'].stack_name}.assets.json")
    images = json.loads(assets_file.read_text())["dockerImages"]
    (image,) = images.values()
    assert image["source"]["platform"] == "linux/amd64"
    _, task = find_one(synth.resources("VectorStore", "AWS::ECS::TaskDefinition"))
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
