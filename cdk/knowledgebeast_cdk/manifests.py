"""Kubernetes manifests for the EKS fallback, as plain dicts (no CDK import here).

Plain data so that the same objects are (1) applied by the EKS stack, (2) written to
``cdk/manifests/*.yaml`` by ``python cdk/write_manifests.py`` for ``kubectl apply``, and
(3) validated offline against the Kubernetes OpenAPI schema in the tests.

Every pod runs as non-root with a read-only root filesystem, no privilege escalation, all
capabilities dropped and the runtime's default seccomp profile. NetworkPolicies deny everything
by default; the API may reach only Chroma (8000), Redis (6379) and cluster DNS.

Secrets are referenced, never defined: create ``knowledgebeast-secrets`` out of band (see
cdk/README.md) so no value is ever committed or stored in a CloudFormation template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

#: Kubernetes version the manifests are validated against (matches the EKS stack's cluster).
KUBERNETES_VERSION = "1.36.0"
API_PORT = 8000
CHROMA_PORT = 8000
REDIS_PORT = 6379
SECRET_NAME = "knowledgebeast-secrets"
STORAGE_CLASS = "gp3-encrypted"


@dataclass(frozen=True)
class ManifestSettings:
    """What differs between clusters; the defaults are placeholders for the generated YAML."""

    namespace: str = "knowledgebeast"
    api_image: str = "knowledgebeast-api:latest"
    chroma_image: str = "knowledgebeast-chromadb:1.5.9"
    redis_image: str = "valkey/valkey:8.1-alpine"
    api_replicas: int = 2
    api_max_replicas: int = 10
    api_cpu_target_percent: int = 70
    chroma_storage_gib: int = 20


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "knowledgebeast", "app.kubernetes.io/component": component}


def _selector(component: str) -> dict[str, Any]:
    return {"matchLabels": _labels(component)}


def _metadata(name: str, namespace: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": _labels(component)}


def _pod_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key}}}


def _tmp_volume() -> dict[str, Any]:
    return {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def _pod_template(component: str, *, uid: int, containers: list[Manifest], volumes: list[Manifest]) -> Manifest:
    return {
        "metadata": {"labels": _labels(component)},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": _pod_security(uid),
            "containers": containers,
            "volumes": volumes,
        },
    }


def namespace(settings: ManifestSettings) -> list[Manifest]:
    """The namespace, plus the switch that makes EKS Auto Mode enforce NetworkPolicies."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": settings.namespace, "labels": {"app.kubernetes.io/name": "knowledgebeast"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "amazon-vpc-cni", "namespace": "kube-system"},
            "data": {"enable-network-policy-controller": "true"},
        },
    ]


def storage_class() -> list[Manifest]:
    """Encrypted gp3 volumes from EKS Auto Mode's EBS driver; RETAIN keeps data past the PVC."""
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS},
            "provisioner": "ebs.csi.eks.amazonaws.com",
            "parameters": {"type": "gp3", "encrypted": "true"},
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": True,
        }
    ]


def chroma(settings: ManifestSettings) -> list[Manifest]:
    """One Chroma replica (single writer) with its own gp3 volume, behind the token proxy."""
    ns = settings.namespace
    container = {
        "name": "chroma",
        "image": settings.chroma_image,
        "ports": [{"name": "http", "containerPort": CHROMA_PORT}],
        "env": [_secret_env("CHROMA_AUTH_TOKEN", "chroma-auth-token")],
        "securityContext": _container_security(),
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata("chroma", ns, "chroma"),
            "spec": {
                "clusterIP": "None",
                "selector": _labels("chroma"),
                "ports": [{"name": "http", "port": CHROMA_PORT, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _metadata("chroma", ns, "chroma"),
            "spec": {
                "serviceName": "chroma",
                "replicas": 1,
                "selector": _selector("chroma"),
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": _pod_template("chroma", uid=10001, containers=[container], volumes=[_tmp_volume()]),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": STORAGE_CLASS,
                            "resources": {"requests": {"storage": f"{settings.chroma_storage_gib}Gi"}},
                        },
                    }
                ],
            },
        },
    ]


def redis(settings: ManifestSettings) -> list[Manifest]:
    """A password-protected, non-persistent cache (losing it costs only recomputation)."""
    ns = settings.namespace
    container = {
        "name": "redis",
        "image": settings.redis_image,
        "command": ["valkey-server"],
        "args": [
            "--requirepass",
            "$(REDIS_PASSWORD)",
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "384mb",
            "--maxmemory-policy",
            "allkeys-lru",
        ],
        "env": [_secret_env("REDIS_PASSWORD", "redis-password")],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "securityContext": _container_security(),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 10, "periodSeconds": 20},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata("redis", ns, "redis"),
            "spec": {
                "selector": _labels("redis"),
                "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _metadata("redis", ns, "redis"),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": _selector("redis"),
                "template": _pod_template(
                    "redis",
                    uid=999,
                    containers=[container],
                    volumes=[{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}, _tmp_volume()],
                ),
            },
        },
    ]


def api(settings: ManifestSettings) -> list[Manifest]:
    """The FastAPI server: 2-10 replicas on CPU, spread across zones, never below one."""
    ns = settings.namespace
    env = [
        {"name": "APP_ENV", "value": "production"},
        {"name": "HOST", "value": "0.0.0.0"},
        {"name": "PORT", "value": str(API_PORT)},
        {"name": "CHROMA_HOST", "value": f"chroma.{ns}.svc.cluster.local"},
        {"name": "CHROMA_PORT", "value": str(CHROMA_PORT)},
        {"name": "REDIS_HOST", "value": f"redis.{ns}.svc.cluster.local"},
        {"name": "REDIS_PORT", "value": str(REDIS_PORT)},
        {"name": "REDIS_SSL", "value": "false"},
        _secret_env("CHROMA_AUTH_TOKEN", "chroma-auth-token"),
        _secret_env("REDIS_PASSWORD", "redis-password"),
        _secret_env("API_KEY", "api-keys"),
        _secret_env("JWT_SECRET", "jwt-secret"),
    ]
    container = {
        "name": "api",
        "image": settings.api_image,
        "ports": [{"name": "http", "containerPort": API_PORT}],
        "env": env,
        "securityContext": _container_security(),
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "startupProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 24,
        },
        "livenessProbe": {"httpGet": {"path": "/health/live", "port": "http"}, "periodSeconds": 20},
        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": "http"}, "periodSeconds": 10},
    }
    template = _pod_template("api", uid=10001, containers=[container], volumes=[_tmp_volume()])
    template["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": _selector("api"),
        }
    ]
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _metadata("api", ns, "api"),
            "spec": {"replicas": settings.api_replicas, "selector": _selector("api"), "template": template},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata("api", ns, "api"),
            "spec": {"selector": _labels("api"), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata("api", ns, "api"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                "minReplicas": settings.api_replicas,
                "maxReplicas": settings.api_max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": settings.api_cpu_target_percent},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata("api", ns, "api"),
            "spec": {"minAvailable": 1, "selector": _selector("api")},
        },
    ]


def _policy(name: str, ns: str, pod_component: str | None, spec: dict[str, Any]) -> Manifest:
    selector = {"matchLabels": _labels(pod_component)} if pod_component else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"podSelector": selector, **spec},
    }


def _from_api(port: int) -> dict[str, Any]:
    return {"from": [{"podSelector": {"matchLabels": _labels("api")}}], "ports": [{"protocol": "TCP", "port": port}]}


def network_policies(settings: ManifestSettings) -> list[Manifest]:
    """Default deny in both directions, then only the flows the application needs."""
    ns = settings.namespace
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    return [
        _policy("default-deny-all", ns, None, {"policyTypes": ["Ingress", "Egress"]}),
        _policy(
            "api-egress",
            ns,
            "api",
            {
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": _labels("chroma")}}],
                        "ports": [{"protocol": "TCP", "port": CHROMA_PORT}],
                    },
                    {
                        "to": [{"podSelector": {"matchLabels": _labels("redis")}}],
                        "ports": [{"protocol": "TCP", "port": REDIS_PORT}],
                    },
                    dns,
                ],
            },
        ),
        # The API is the public entry point: whatever load balancer fronts it may connect.
        _policy(
            "api-ingress",
            ns,
            "api",
            {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"protocol": "TCP", "port": API_PORT}]}]},
        ),
        _policy("chroma-ingress", ns, "chroma", {"policyTypes": ["Ingress"], "ingress": [_from_api(CHROMA_PORT)]}),
        _policy("redis-ingress", ns, "redis", {"policyTypes": ["Ingress"], "ingress": [_from_api(REDIS_PORT)]}),
    ]


def manifest_files(settings: ManifestSettings | None = None) -> dict[str, list[Manifest]]:
    """File stem -> documents, in apply order (namespace and storage class first)."""
    settings = settings or ManifestSettings()
    return {
        "00-namespace": namespace(settings),
        "10-storage-class": storage_class(),
        "20-chroma": chroma(settings),
        "30-redis": redis(settings),
        "40-api": api(settings),
        "50-network-policies": network_policies(settings),
    }


def all_manifests(settings: ManifestSettings | None = None) -> list[Manifest]:
    """Every document in apply order."""
    return [doc for docs in manifest_files(settings).values() for doc in docs]
