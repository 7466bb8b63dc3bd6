"""Kubernetes manifests for the EKS fallback, as plain dicts (no CDK import here).

Plain data so that the same objects are (1) applied by the EKS stack, (2) written to
``cdk/manifests/*.yaml`` by ``python cdk/write_manifests.py`` for ``kubectl apply``, and
(3) validated offline against the Kubernetes OpenAPI schema in the tests.

Every pod runs as non-root with a read-only root filesystem, no privilege escalation, all
capabilities dropped and the runtime's default seccomp profile. NetworkPolicies deny everything
by default, then allow only the flows the application needs.

Secrets: no Kubernetes Secret exists. The API, ingest worker and backup job get only secret ARNs
and read the values themselves through EKS Pod Identity (the same code path as the Lambdas).
Chroma's token proxy and Valkey cannot call AWS, so an init container of the API image
(``knowledgebeast.tools.secret_files``) writes their value into a memory-backed volume of the pod.
Nothing secret is ever in a manifest, a CloudFormation template or the kubectl provider's logs,
and no operator has to run kubectl.

DNS: EKS Auto Mode answers cluster DNS on each node (not from ``k8s-app=kube-dns`` pods), so a
policy that allows DNS only to kube-dns pods blocks every lookup. Egress on port 53 (UDP and TCP)
is allowed to any address instead; everything else stays denied.

Scaling: fixed replica counts. Auto Mode ships no metrics-server, so a CPU HorizontalPodAutoscaler
would never get a metric (``<unknown>``) and never scale; there is none. Each API pod requests
``api_workers`` CPUs and runs that many server processes (WORKERS), one per core; add pods for more.
"""

from __future__ import annotations

from typing import Any

from knowledgebeast_cdk.manifest_parts import (
    API_PORT,
    CHROMA_PORT,
    KUBERNETES_VERSION,
    POD_IDENTITY_AGENT,
    REDIS_PORT,
    SECRETS_DIR,
    SECRETS_VOLUME,
    SERVICE_ACCOUNT,
    STORAGE_CLASS,
    Manifest,
    ManifestSettings,
    _container_security,
    _labels,
    _metadata,
    _pod_template,
    _secret_files_init,
    _secrets_volume,
    _selector,
    _tmp_volume,
    _workload_metadata,
)
from knowledgebeast_cdk.manifests_app import api, backup_job, ingest_worker

__all__ = ["KUBERNETES_VERSION", "Manifest", "ManifestSettings", "all_manifests", "manifest_files"]


def namespace(settings: ManifestSettings) -> list[Manifest]:
    """The namespace, its service account (Pod Identity), and NetworkPolicy enforcement on Auto Mode."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": settings.namespace, "labels": {"app.kubernetes.io/name": "knowledgebeast"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": settings.namespace, "labels": _labels("aws")},
            "automountServiceAccountToken": False,
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
    token_file = f"{SECRETS_DIR}/chroma-token"
    container = {
        "name": "chroma",
        "image": settings.chroma_image,
        "imagePullPolicy": "Always",
        # the image's entrypoint, with the token read from the init container's file
        "command": ["dumb-init", "--", "bash", "-c"],
        "args": [f'CHROMA_AUTH_TOKEN="$(cat {token_file})"; export CHROMA_AUTH_TOKEN; exec knowledgebeast-chroma'],
        "ports": [{"name": "http", "containerPort": CHROMA_PORT}],
        "securityContext": _container_security(),
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR, "readOnly": True},
        ],
        # Liveness waits for startup: 24 x 10 s = 240 s, the start period measured for ECS
        # (containers/chromadb/README.md: up to 55 s to open a 100k index after an unclean stop,
        # plus the 90 s single-writer lock wait), so a slow first open is not killed and restarted.
        "startupProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 24},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20, "failureThreshold": 3},
    }
    init = _secret_files_init(settings, {"chroma-token": settings.chroma_token_secret_arn}, {})
    template = _pod_template(
        "chroma", uid=10001, containers=[container], volumes=[_tmp_volume(), _secrets_volume()], init=[init]
    )
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
            "metadata": _workload_metadata("chroma", ns, "chroma"),
            "spec": {
                "serviceName": "chroma",
                "replicas": 1,
                "selector": _selector("chroma"),
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": template,
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
        "imagePullPolicy": "Always",
        # the password arrives as a config file line (never an argument visible in `ps`)
        "command": ["valkey-server"],
        "args": [
            f"{SECRETS_DIR}/valkey.conf",
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
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "securityContext": _container_security(),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR, "readOnly": True},
        ],
        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 10, "periodSeconds": 20},
    }
    init = _secret_files_init(
        settings, {"valkey.conf": settings.redis_password_secret_arn}, {"valkey.conf": "requirepass {}"}
    )
    volumes = [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}, _tmp_volume(), _secrets_volume()]
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
            "metadata": _workload_metadata("redis", ns, "redis"),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": _selector("redis"),
                "template": _pod_template("redis", uid=10001, containers=[container], volumes=volumes, init=[init]),
            },
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


def _from_components(port: int, *components: str) -> dict[str, Any]:
    return {
        "from": [{"podSelector": {"matchLabels": _labels(component)}} for component in components],
        "ports": [{"protocol": "TCP", "port": port}],
    }


def _to_component(component: str, port: int) -> dict[str, Any]:
    return {"to": [{"podSelector": {"matchLabels": _labels(component)}}], "ports": [{"protocol": "TCP", "port": port}]}


#: DNS to any address: Auto Mode serves cluster DNS from the node, not from kube-dns pods.
DNS_EGRESS = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
#: AWS APIs (Secrets Manager, SQS, S3) over HTTPS through the NAT gateway, and the node's
#: Pod Identity Agent for credentials.
AWS_EGRESS = [
    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
    {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
]


def network_policies(settings: ManifestSettings) -> list[Manifest]:
    """Default deny in both directions, then only the flows the application needs."""
    ns = settings.namespace
    app_egress = [_to_component("chroma", CHROMA_PORT), _to_component("redis", REDIS_PORT), DNS_EGRESS, *AWS_EGRESS]
    policies = [_policy("default-deny-all", ns, None, {"policyTypes": ["Ingress", "Egress"]})]
    for component in ("api", "worker", "backup"):
        policies.append(
            _policy(f"{component}-egress", ns, component, {"policyTypes": ["Egress"], "egress": app_egress})
        )
    # the init containers of Chroma and Valkey fetch their secret from Secrets Manager
    for component in ("chroma", "redis"):
        policies.append(
            _policy(
                f"{component}-egress", ns, component, {"policyTypes": ["Egress"], "egress": [DNS_EGRESS, *AWS_EGRESS]}
            )
        )
    policies += [
        # The API is the public entry point: the load balancer (IP targets) connects from its subnets.
        _policy(
            "api-ingress",
            ns,
            "api",
            {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"protocol": "TCP", "port": API_PORT}]}]},
        ),
        _policy(
            "chroma-ingress",
            ns,
            "chroma",
            {"policyTypes": ["Ingress"], "ingress": [_from_components(CHROMA_PORT, "api", "worker", "backup")]},
        ),
        _policy(
            "redis-ingress",
            ns,
            "redis",
            {"policyTypes": ["Ingress"], "ingress": [_from_components(REDIS_PORT, "api", "worker")]},
        ),
    ]
    return policies


def manifest_files(settings: ManifestSettings | None = None) -> dict[str, list[Manifest]]:
    """File stem -> documents, in apply order (namespace and storage class first)."""
    settings = settings or ManifestSettings()
    return {
        "00-namespace": namespace(settings),
        "10-storage-class": storage_class(),
        "20-chroma": chroma(settings),
        "30-redis": redis(settings),
        "40-api": api(settings),
        "45-ingest-worker": ingest_worker(settings),
        "47-backup": backup_job(settings),
        "50-network-policies": network_policies(settings),
    }


def all_manifests(settings: ManifestSettings | None = None) -> list[Manifest]:
    """Every document in apply order."""
    return [doc for docs in manifest_files(settings).values() for doc in docs]
