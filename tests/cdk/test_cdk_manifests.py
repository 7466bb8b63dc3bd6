"""EKS manifests: valid against the Kubernetes schema offline, hardened pods, deny-by-default network."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml
from knowledgebeast_cdk.manifests import KUBERNETES_VERSION, Manifest, ManifestSettings, all_manifests, manifest_files

MANIFESTS = all_manifests()
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "CronJob"}
API_LABELS = {"app.kubernetes.io/name": "knowledgebeast", "app.kubernetes.io/component": "api"}


def _named(kind: str, name: str) -> Manifest:
    (doc,) = [d for d in MANIFESTS if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    def template(doc: Manifest) -> dict[str, Any]:
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        pod: dict[str, Any] = spec["template"]["spec"]
        return pod

    return [(d["metadata"]["name"], template(d)) for d in MANIFESTS if d["kind"] in WORKLOAD_KINDS]


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
    assert {name for name, _ in specs} == {"api", "chroma", "redis", "worker", "backup"}
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] >= 10000, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            assert container["resources"]["limits"]["cpu"], name


def test_api_probes_replicas_workers_and_a_way_in() -> None:
    deployment = _named("Deployment", "api")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WORKERS"] == container["resources"]["requests"]["cpu"] == "2"  # one process per requested core
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert not [d for d in MANIFESTS if d["kind"] == "HorizontalPodAutoscaler"]  # no metrics-server on Auto Mode
    assert _named("PodDisruptionBudget", "api")["spec"]["minAvailable"] == 1
    service = _named("Service", "api")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerClass"] == "eks.amazonaws.com/nlb"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_tls_is_an_option_of_the_load_balancer() -> None:
    arn = "arn:aws:acm:eu-west-1:111122223333:certificate/abc"
    (service,) = [
        d
        for d in all_manifests(ManifestSettings(tls_certificate_arn=arn))
        if d["kind"] == "Service" and d["metadata"]["name"] == "api"
    ]
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == arn
    assert service["spec"]["ports"][0]["port"] == 443
    kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True)


def test_worker_and_backup_run_the_api_image_by_command() -> None:
    api_image = _named("Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["image"]
    (worker,) = _named("Deployment", "worker")["spec"]["template"]["spec"]["containers"]
    assert worker["image"] == api_image
    assert worker["args"][:3] == ["worker", "ingest", "--queue"]
    assert _named("Deployment", "worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    cron = _named("CronJob", "backup")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    (backup,) = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert backup["image"] == api_image and backup["args"][0] == "backup"


def test_chroma_is_one_replica_on_a_gp3_volume() -> None:
    statefulset = _named("StatefulSet", "chroma")["spec"]
    assert statefulset["replicas"] == 1
    (claim,) = statefulset["volumeClaimTemplates"]
    storage_class = _named("StorageClass", claim["spec"]["storageClassName"])
    assert storage_class["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage_class["reclaimPolicy"] == "Retain"


def test_no_secret_values_anywhere_only_arns_and_files_from_secrets_manager() -> None:
    assert not [d for d in MANIFESTS if d["kind"] == "Secret"]
    text = yaml.safe_dump_all(MANIFESTS)
    assert "secretKeyRef" not in text
    for _, spec in _pod_specs():
        for container in spec["containers"] + spec.get("initContainers", []):
            for env in container.get("env", []):
                if any(word in env["name"] for word in ("PASSWORD", "TOKEN", "API_KEY", "SECRET")):
                    assert env["name"].endswith("_SECRET_ARN") and env["value"].startswith("arn:aws:secretsmanager:")
    for name in ("chroma", "redis"):
        spec = dict(_pod_specs())[name]
        (init,) = spec["initContainers"]
        assert init["command"] == ["python", "-m", "knowledgebeast.tools.secret_files"]
        volume = next(v for v in spec["volumes"] if v["name"] == "secrets")
        assert volume["emptyDir"]["medium"] == "Memory"
        assert spec["serviceAccountName"] == "knowledgebeast"


def test_network_policies_deny_by_default_and_allow_dns_on_auto_mode() -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in MANIFESTS if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for component in ("api", "worker", "backup", "chroma", "redis"):
        egress = policies[f"{component}-egress"]["egress"]
        dns = [rule for rule in egress if "to" not in rule]
        # Auto Mode resolves on the node: a rule limited to kube-dns pods would block every lookup
        assert dns == [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}], component
        assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in [t for rule in egress for t in rule.get("to", [])]
    api_egress = policies["api-egress"]["egress"]
    stores = {
        (rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], rule["ports"][0]["port"])
        for rule in api_egress
        if rule.get("to") and "podSelector" in rule["to"][0]
    }
    assert stores == {("chroma", 8000), ("redis", 6379)}
    (rule,) = policies["chroma-ingress"]["ingress"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]] == [
        "api",
        "worker",
        "backup",
    ]


def test_committed_yaml_matches_the_generator() -> None:
    """cdk/manifests/*.yaml must be regenerated (python cdk/write_manifests.py) after a change."""
    from write_manifests import OUTPUT_DIR, render

    rendered = render()
    on_disk = {path.name: path.read_text() for path in OUTPUT_DIR.glob("*.yaml")}
    assert on_disk == rendered
    for name, docs in manifest_files().items():
        assert list(yaml.safe_load_all(rendered[f"{name}.yaml"])) == docs
