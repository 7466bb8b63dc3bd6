"""The application's own workloads on EKS: API (Deployment + NLB Service + PDB), ingest worker
(Deployment), backup (CronJob). All run the one API image with a different command."""

from __future__ import annotations

from knowledgebeast_cdk.manifest_parts import (
    API_PORT,
    CHROMA_PORT,
    NO_PROBE_REASON,
    REDIS_PORT,
    Manifest,
    ManifestSettings,
    _container_security,
    _labels,
    _metadata,
    _pod_template,
    _selector,
    _tmp_volume,
    _workload_metadata,
)


def _app_env(settings: ManifestSettings) -> list[dict[str, str]]:
    """What the API, the worker and the backup job share: stores, region and secret ARNs."""
    ns = settings.namespace
    values = {
        "APP_ENV": "production",
        "AWS_REGION": settings.aws_region,
        "CHROMA_HOST": f"chroma.{ns}.svc.cluster.local",
        "CHROMA_PORT": str(CHROMA_PORT),
        "CHROMA_AUTH_TOKEN_SECRET_ARN": settings.chroma_token_secret_arn,
        "REDIS_HOST": f"redis.{ns}.svc.cluster.local",
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_SSL": "false",
        "REDIS_PASSWORD_SECRET_ARN": settings.redis_password_secret_arn,
        "API_KEYS_SECRET_ARN": settings.api_keys_secret_arn,
        "JWT_SECRET_ARN": settings.jwt_secret_arn,
    }
    return [{"name": name, "value": value} for name, value in values.items()]


def _app_container(settings: ManifestSettings, name: str, args: list[str], resources: Manifest) -> Manifest:
    return {
        "name": name,
        "image": settings.api_image,
        "imagePullPolicy": "Always",
        "args": args,
        "env": _app_env(settings),
        "securityContext": _container_security(),
        "resources": resources,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def api(settings: ManifestSettings) -> list[Manifest]:
    """The HTTP API: ``api_replicas`` pods of ``api_workers`` processes each, behind an NLB."""
    ns = settings.namespace
    cpu = str(settings.api_workers)
    container = _app_container(
        settings,
        "api",
        ["serve"],
        {"requests": {"cpu": cpu, "memory": "1536Mi"}, "limits": {"cpu": cpu, "memory": "3Gi"}},
    )
    container["env"] += [
        {"name": "HOST", "value": "0.0.0.0"},
        {"name": "PORT", "value": str(API_PORT)},
        {"name": "WORKERS", "value": str(settings.api_workers)},
    ]
    container["ports"] = [{"name": "http", "containerPort": API_PORT}]
    container["startupProbe"] = {
        "httpGet": {"path": "/health/live", "port": "http"},
        "periodSeconds": 5,
        "failureThreshold": 24,
    }
    container["livenessProbe"] = {"httpGet": {"path": "/health/live", "port": "http"}, "periodSeconds": 20}
    container["readinessProbe"] = {"httpGet": {"path": "/health/ready", "port": "http"}, "periodSeconds": 10}
    template = _pod_template("api", uid=10001, containers=[container], volumes=[_tmp_volume()], aws_identity=True)
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
            "metadata": _workload_metadata("api", ns, "api"),
            "spec": {"replicas": settings.api_replicas, "selector": _selector("api"), "template": template},
        },
        _api_service(settings),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata("api", ns, "api"),
            "spec": {"minAvailable": 1, "selector": _selector("api")},
        },
    ]


def _api_service(settings: ManifestSettings) -> Manifest:
    """EKS Auto Mode's built-in Network Load Balancer (no controller to install); TLS when a
    certificate is given, the NLB's health check on /health/ready."""
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    annotations = {
        f"{prefix}scheme": settings.load_balancer_scheme,
        f"{prefix}nlb-target-type": "ip",
        f"{prefix}healthcheck-protocol": "http",
        f"{prefix}healthcheck-path": "/health/ready",
    }
    port = 80
    if settings.tls_certificate_arn:
        annotations[f"{prefix}ssl-cert"] = settings.tls_certificate_arn
        annotations[f"{prefix}ssl-ports"] = "443"
        annotations[f"{prefix}ssl-negotiation-policy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
        port = 443
    metadata = _metadata("api", settings.namespace, "api")
    metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": "LoadBalancer",
            "loadBalancerClass": "eks.amazonaws.com/nlb",
            "selector": _labels("api"),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def ingest_worker(settings: ManifestSettings) -> list[Manifest]:
    """``knowledgebeast worker ingest``: a fixed count of SQS consumers (see the module docstring)."""
    container = _app_container(
        settings,
        "worker",
        ["worker", "ingest", "--queue", settings.ingest_queue_url],
        {"requests": {"cpu": "1", "memory": "1536Mi"}, "limits": {"cpu": "1", "memory": "3Gi"}},
    )
    template = _pod_template("worker", uid=10001, containers=[container], volumes=[_tmp_volume()], aws_identity=True)
    # a stop finishes the file in hand: long poll (20 s) plus the largest document's ingest
    template["spec"]["terminationGracePeriodSeconds"] = 300
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _workload_metadata(
                "worker",
                settings.namespace,
                "worker",
                NO_PROBE_REASON.format(check="CKV_K8S_8"),
                NO_PROBE_REASON.format(check="CKV_K8S_9"),
            ),
            "spec": {"replicas": settings.ingest_workers, "selector": _selector("worker"), "template": template},
        }
    ]


def backup_job(settings: ManifestSettings) -> list[Manifest]:
    """``knowledgebeast backup`` every hour into the backup bucket; never two at once."""
    container = _app_container(
        settings,
        "backup",
        ["backup", "--dest", f"s3://{settings.backup_bucket}"],
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    )
    template = _pod_template("backup", uid=10001, containers=[container], volumes=[_tmp_volume()], aws_identity=True)
    template["spec"]["restartPolicy"] = "Never"
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _workload_metadata("backup", settings.namespace, "backup"),
            "spec": {
                "schedule": settings.backup_schedule,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 3300, "template": template},
                },
            },
        }
    ]
