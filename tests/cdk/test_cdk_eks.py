"""EKS fallback stack (context eks=true): private cluster, logging, and the manifests applied."""

from __future__ import annotations

import json

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


def test_manifests_are_applied_with_the_built_chroma_image(synth: Synthesized) -> None:
    _, resource = find_one(synth.resources("Eks", "Custom::AWSCDK-EKS-KubernetesResource"))
    manifest = json.dumps(resource["Properties"]["Manifest"])
    for kind in ("StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "StorageClass"):
        assert f'\\"kind\\":\\"{kind}\\"' in manifest, kind
    assert "container-assets" in manifest  # Chroma image published from containers/chromadb
    assert "knowledgebeast-api:latest" in manifest  # API image from context (eks_api_image)


def test_eks_stack_stands_alone(synth: Synthesized) -> None:
    assert "Fn::GetStackOutput" not in json.dumps(synth.templates["Eks"])
