"""Building blocks of the EKS manifests: settings, labels, hardened pod templates, secret files.

Plain data, no CDK import (see ``manifests.py``).
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
STORAGE_CLASS = "gp3-encrypted"
SERVICE_ACCOUNT = "knowledgebeast"
SECRETS_VOLUME = "secrets"
SECRETS_DIR = "/run/knowledgebeast"
#: EKS Pod Identity Agent (credentials for the service account's IAM role), on every node.
POD_IDENTITY_AGENT = "169.254.170.23/32"
PLACEHOLDER_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:knowledgebeast/{name}"


@dataclass(frozen=True)
class ManifestSettings:
    """What differs between clusters; the defaults are placeholders for the generated YAML."""

    namespace: str = "knowledgebeast"
    api_image: str = "knowledgebeast-api:0.1.0"
    chroma_image: str = "knowledgebeast-chromadb:1.5.9"
    redis_image: str = "valkey/valkey:8.1-bookworm"
    api_replicas: int = 2
    api_workers: int = 2
    ingest_workers: int = 1
    chroma_storage_gib: int = 20
    #: "internet-facing" or "internal" Network Load Balancer in front of the API
    load_balancer_scheme: str = "internet-facing"
    #: ACM certificate: when set, the load balancer terminates TLS on 443 (else plain HTTP on 80)
    tls_certificate_arn: str | None = None
    aws_region: str = "eu-west-1"
    ingest_queue_url: str = "https://sqs.eu-west-1.amazonaws.com/111122223333/knowledgebeast-ingest"
    backup_bucket: str = "knowledgebeast-backups-111122223333"
    backup_schedule: str = "17 * * * *"
    api_keys_secret_arn: str = PLACEHOLDER_ARN.format(name="api-keys")
    jwt_secret_arn: str = PLACEHOLDER_ARN.format(name="jwt")
    chroma_token_secret_arn: str = PLACEHOLDER_ARN.format(name="chroma-token")
    redis_password_secret_arn: str = PLACEHOLDER_ARN.format(name="redis-password")


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "knowledgebeast", "app.kubernetes.io/component": component}


def _selector(component: str) -> dict[str, Any]:
    return {"matchLabels": _labels(component)}


#: checkov findings acknowledged on the workloads themselves (``checkov.io/skipN`` annotations).
DIGEST_REASON = (
    "CKV_K8S_43=the API and Chroma images are CDK assets tagged by content hash in the bootstrap ECR "
    "repository (tags immutable); Valkey's public image is pinned by tag because no registry was reachable "
    "to read its digest: pin it with the digest from docker buildx imagetools inspect before production"
)
NO_PROBE_REASON = "{check}=the ingest worker serves no port; it exits on failure and the Deployment restarts it"


def _metadata(name: str, namespace: str, component: str, *skips: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": _labels(component)}
    if skips:
        metadata["annotations"] = {f"checkov.io/skip{n}": reason for n, reason in enumerate(skips, start=1)}
    return metadata


def _workload_metadata(name: str, namespace: str, component: str, *skips: str) -> dict[str, Any]:
    """Metadata of a Deployment/StatefulSet/CronJob: image digest finding acknowledged (see DIGEST_REASON)."""
    return _metadata(name, namespace, component, DIGEST_REASON, *skips)


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


def _tmp_volume() -> dict[str, Any]:
    return {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def _secrets_volume() -> dict[str, Any]:
    return {"name": SECRETS_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}


def _secret_files_init(settings: ManifestSettings, files: dict[str, str], lines: dict[str, str]) -> Manifest:
    """Init container (API image) writing Secrets Manager values into the pod's memory volume."""
    args = [SECRETS_DIR, *(f"{name}={arn}" for name, arn in files.items())]
    for name, template in lines.items():
        args += ["--line", f"{name}={template}"]
    return {
        "name": "fetch-secrets",
        "image": settings.api_image,
        "imagePullPolicy": "Always",
        "command": ["python", "-m", "knowledgebeast.tools.secret_files"],
        "args": args,
        "env": [{"name": "AWS_REGION", "value": settings.aws_region}],
        "securityContext": _container_security(),
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "volumeMounts": [{"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def _pod_template(
    component: str,
    *,
    uid: int,
    containers: list[Manifest],
    volumes: list[Manifest],
    init: list[Manifest] | None = None,
    aws_identity: bool = False,
) -> Manifest:
    """``aws_identity``: run as the service account that EKS Pod Identity maps to the IAM role."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(uid),
        "containers": containers,
        "volumes": volumes,
    }
    if aws_identity or init:
        spec["serviceAccountName"] = SERVICE_ACCOUNT
    if init:
        spec["initContainers"] = init
    return {"metadata": {"labels": _labels(component)}, "spec": spec}
