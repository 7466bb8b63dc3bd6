"""EKS fallback stack (context eks=true): private cluster, logging, and the manifests applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_helpers import Synthesized, find_one
from knowledgebeast_cdk.manifests import KUBERNETES_VERSION


def test_cluster_is_private_logged_and_encrypted(synth: Synthesized) -> None:
    _, cluster = find_one(synth.resources("Eks", "AWS::EKS::Cluster"))
    props = cluster["Properties"]
    assert props["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    assert props["ResourcesVpcConfig"]["EndpointPrivateAccess"] is True
    assert len(props["Logging"]["ClusterLogging"]["EnabledTypes"]) == 5
    assert props["EncryptionConfig"][0]["Resources"] == ["secrets"]
    assert props["ComputeConfig"]["Enabled"] is True  # Auto Mode
    assert props["Version"] == KUBERNETES_VERSION.rsplit(".", 1)[0]


def test_manifests_are_applied_with_both_built_images(synth: Synthesized) -> None:
    _, resource = find_one(synth.resources("Eks", "Custom::AWSCDK-EKS-KubernetesResource"))
    manifest = json.dumps(resource["Properties"]["Manifest"])
    for kind in ("StatefulSet", "Deployment", "CronJob", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
        assert f'\\"kind\\":\\"{kind}\\"' in manifest, kind
    assert "HorizontalPodAutoscaler" not in manifest  # Auto Mode ships no metrics-server
    assert "knowledgebeast-api:" not in manifest  # no placeholder image left
    assets = json.loads(next(synth.outdir.glob("*Eks*.assets.json")).read_text())["dockerImages"]
    sources = {(a["source"].get("dockerFile"), a["source"]["platform"]) for a in assets.values()}
    assert ("containers/api/Dockerfile", "linux/amd64") in sources
    (api,) = [a for a in assets.values() if a["source"].get("dockerFile") == "containers/api/Dockerfile"]
    staged = synth.outdir / api["source"]["directory"]  # the build context docker gets at deploy time
    for needed in ("containers/api/Dockerfile", "containers/api/build.sh", "Makefile", "pyproject.toml"):
        assert (staged / needed).is_file(), needed
    assert (staged / "layers" / "knowledgebeast" / "python" / "knowledgebeast" / "cli.py").is_file()
    assert not (staged / ".venv").exists() and not (staged / "build").exists()
    assert manifest.count("container-assets") >= 2  # API (api, worker, backup, init) and Chroma images


def test_pods_get_aws_credentials_through_pod_identity(synth: Synthesized) -> None:
    _, association = find_one(synth.resources("Eks", "AWS::EKS::PodIdentityAssociation"))
    assert association["Properties"]["Namespace"] == "knowledgebeast"
    assert association["Properties"]["ServiceAccount"] == "knowledgebeast"
    roles = synth.resources("Eks", "AWS::IAM::Role")
    trusts = [json.dumps(r["Properties"]["AssumeRolePolicyDocument"]) for r in roles.values()]
    assert any("pods.eks.amazonaws.com" in t and "sts:TagSession" in t for t in trusts)


def _operator_entries(resources: Any) -> list[dict[str, Any]]:
    """Access entries for a principal given by ARN (the kubectl provider's own entry is a GetAtt)."""
    return [
        r
        for r in resources
        if r["Type"] == "AWS::EKS::AccessEntry" and isinstance(r["Properties"]["PrincipalArn"], str)
    ]


def test_no_operator_access_or_public_endpoint_unless_asked(synth: Synthesized) -> None:
    assert not _operator_entries(synth.templates["Eks"]["Resources"].values())
    _, cluster = find_one(synth.resources("Eks", "AWS::EKS::Cluster"))
    assert cluster["Properties"]["ResourcesVpcConfig"]["EndpointPublicAccess"] is False


@pytest.fixture(scope="module")
def operator_synth(stub_assets: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from knowledgebeast_cdk.app_builder import build_app

    outdir = tmp_path_factory.mktemp("cdk.out.operator")
    context = {
        "eks": True,
        "eks_operator_principal_arn": "arn:aws:iam::111122223333:role/Operator",
        "eks_endpoint_cidrs": "203.0.113.0/24",
        "eks_tls_certificate_arn": "arn:aws:acm:eu-west-1:111122223333:certificate/abc",
    }
    app, stacks = build_app(assets=stub_assets, outdir=str(outdir), cfn_validation=False, context=context)
    app.synth()
    template: dict[str, Any] = json.loads((outdir / f"{stacks.eks.stack_name}.template.json").read_text())
    return template


def test_operator_access_entry_public_cidrs_and_tls_from_context(operator_synth: dict[str, Any]) -> None:
    resources = operator_synth["Resources"].values()
    (entry,) = _operator_entries(resources)
    assert entry["Properties"]["PrincipalArn"] == "arn:aws:iam::111122223333:role/Operator"
    assert "AmazonEKSClusterAdminPolicy" in json.dumps(entry["Properties"]["AccessPolicies"])
    (cluster,) = [r for r in resources if r["Type"] == "AWS::EKS::Cluster"]
    vpc_config = cluster["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPublicAccess"] is True and vpc_config["PublicAccessCidrs"] == ["203.0.113.0/24"]
    (manifest,) = [r for r in resources if r["Type"] == "Custom::AWSCDK-EKS-KubernetesResource"]
    assert "aws-load-balancer-ssl-cert" in json.dumps(manifest["Properties"]["Manifest"])


def test_eks_stack_stands_alone(synth: Synthesized) -> None:
    assert "Fn::GetStackOutput" not in json.dumps(synth.templates["Eks"])
