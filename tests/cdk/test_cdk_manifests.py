"""EKS manifests: valid against the Kubernetes schema offline, hardened pods, deny-by-default network."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml
from knowledgebeast_cdk.manifests import KUBERNETES_VERSION, Manifest, all_manifests, manifest_files

MANIFESTS = all_manifests()
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
API_LABELS = {"app.kubernetes.io/name": "knowledgebeast", "app.kubernetes.io/component": "api"}


def _named(kind: str, name: str) -> Manifest:
    (doc,) = [d for d in MANIFESTS if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in MANIFESTS if d["kind"] in WORKLOAD_KINDS]


@pytest.mark.parametrize("doc", MANIFESTS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_against_the_bundled_schema(doc: Manifest) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validator_rejects_an_invalid_manifest() -> None:
    broken = copy.deepcopy(_named("Deployment", "api"))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_pod_is_hardened() -> None:
    specs = _pod_specs()
    assert {name for name, _ in specs} == {"api", "chroma", "redis"}
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name


def test_api_probes_replicas_autoscaling_and_disruption_budget() -> None:
    deployment = _named("Deployment", "api")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    hpa = _named("HorizontalPodAutoscaler", "api")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert _named("PodDisruptionBudget", "api")["spec"]["minAvailable"] == 1
    assert _named("Service", "api")["spec"]["ports"][0]["targetPort"] == "http"


def test_chroma_is_one_replica_on_a_gp3_volume() -> None:
    statefulset = _named("StatefulSet", "chroma")["spec"]
    assert statefulset["replicas"] == 1
    (claim,) = statefulset["volumeClaimTemplates"]
    storage_class = _named("StorageClass", claim["spec"]["storageClassName"])
    assert storage_class["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage_class["reclaimPolicy"] == "Retain"


def test_secrets_are_referenced_never_defined() -> None:
    assert not [d for d in MANIFESTS if d["kind"] == "Secret"]
    sensitive = [
        env
        for _, spec in _pod_specs()
        for container in spec["containers"]
        for env in container["env"]
        if any(word in env["name"] for word in ("PASSWORD", "TOKEN", "API_KEY", "SECRET"))
    ]
    assert len(sensitive) == 6
    for env in sensitive:
        assert "value" not in env, env["name"]
        assert env["valueFrom"]["secretKeyRef"]["name"] == "knowledgebeast-secrets"


def test_network_policies_deny_by_default_and_allow_only_api_to_stores() -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in MANIFESTS if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = policies["api-egress"]["egress"]
    allowed = {
        (rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], port["port"])
        for rule in egress
        if "podSelector" in rule["to"][0] and "namespaceSelector" not in rule["to"][0]
        for port in rule["ports"]
    }
    assert allowed == {("chroma", 8000), ("redis", 6379)}
    dns_ports = {port["port"] for rule in egress if "namespaceSelector" in rule["to"][0] for port in rule["ports"]}
    assert dns_ports == {53}
    for store, port in (("chroma", 8000), ("redis", 6379)):
        (rule,) = policies[f"{store}-ingress"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": API_LABELS}}]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_committed_yaml_matches_the_generator() -> None:
    """cdk/manifests/*.yaml must be regenerated (python cdk/write_manifests.py) after a change."""
    from write_manifests import OUTPUT_DIR, render

    rendered = render()
    on_disk = {path.name: path.read_text() for path in OUTPUT_DIR.glob("*.yaml")}
    assert on_disk == rendered
    for name, docs in manifest_files().items():
        assert list(yaml.safe_load_all(rendered[f"{name}.yaml"])) == docs
