"""Idle monthly cost of a synthesized deployment, counted from its CloudFormation templates.

"Idle" means deployed and receiving no traffic: what is billed by the hour or month whether or
not anyone calls the API. The estimate walks every resource in the templates, counts what has
such a price (interface endpoints x subnets, NAT gateways and instances, public IPv4 addresses,
cache nodes by type and engine, Fargate vCPU/GB by capacity type, EFS, KMS keys, secrets, alarm
metrics, dashboards, Cloud Map, EKS control planes) and multiplies by the list prices below.

Not counted, because they are usage-priced and near zero at idle (most inside the free tier):
Lambda, API Gateway, SQS requests (the event source's long polling included), S3 storage and
requests, data processed by NAT/endpoints, CloudWatch Logs ingestion (flow logs, task logs),
ECR image storage (~$0.10/GB-month in the CDK bootstrap repository), EFS elastic throughput.

Prices: on-demand list prices in USD from the AWS pricing pages (aws.amazon.com/<service>/pricing:
privatelink, vpc, ec2, ebs, elasticache, fargate, efs, kms, secrets-manager, cloudwatch,
route53, cloud-map, eks), as published in 2025-2026 and written down on 2026-12-02 without network
access to re-check them (Fargate's us-east-1 rates cross-checked against vantage.sh and wring.co,
March 2026). Verify with the AWS Pricing Calculator before budgeting; update PRICES when they move.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOURS_PER_MONTH = 730
#: Stored data assumed per EFS file system (a small index); EFS bills by GB stored.
ASSUMED_EFS_GB = 1.0
#: Container Insights (not "enhanced") bills its metrics as custom metrics: about 35 per cluster
#: with one Fargate service (cluster, service and task-family dimension sets). Approximate.
CONTAINER_INSIGHTS_METRICS_PER_CLUSTER = 35
#: Fargate Spot runs at "up to 70 %" off on-demand; its price moves, 70 % off is assumed.
FARGATE_SPOT_FACTOR = 0.30
#: Node-based ElastiCache for Valkey is priced 20 % below Redis OSS for the same node type.
VALKEY_FACTOR = 0.80

Template = Mapping[str, Any]


@dataclass(frozen=True)
class RegionPrices:
    """On-demand USD list prices of one region (hourly rates per hour, the rest per month)."""

    region: str
    interface_endpoint_hour: float
    nat_gateway_hour: float
    public_ipv4_hour: float
    ec2_hour: Mapping[str, float]
    ebs_gp3_gb_month: float
    #: Redis OSS node prices; Valkey = VALKEY_FACTOR x these.
    cache_node_hour: Mapping[str, float]
    fargate_vcpu_hour: Mapping[str, float]
    fargate_gb_hour: Mapping[str, float]
    efs_standard_gb_month: float
    efs_backup_gb_month: float
    eks_cluster_hour: float
    kms_key_month: float = 1.00
    secret_month: float = 0.40
    alarm_metric_month: float = 0.10
    dashboard_month: float = 3.00
    custom_metric_month: float = 0.30
    hosted_zone_month: float = 0.50
    cloud_map_instance_month: float = 0.10


PRICES: dict[str, RegionPrices] = {
    "us-east-1": RegionPrices(
        region="us-east-1",
        interface_endpoint_hour=0.01,
        nat_gateway_hour=0.045,
        public_ipv4_hour=0.005,
        ec2_hour={"t4g.nano": 0.0042, "t4g.micro": 0.0084, "t4g.small": 0.0168, "t3.nano": 0.0052},
        ebs_gp3_gb_month=0.08,
        cache_node_hour={"cache.t4g.micro": 0.016, "cache.t4g.small": 0.032, "cache.t4g.medium": 0.065},
        fargate_vcpu_hour={"X86_64": 0.04048, "ARM64": 0.03238},
        fargate_gb_hour={"X86_64": 0.004445, "ARM64": 0.00356},
        efs_standard_gb_month=0.30,
        efs_backup_gb_month=0.05,
        eks_cluster_hour=0.10,
    ),
    "eu-west-1": RegionPrices(
        region="eu-west-1",
        interface_endpoint_hour=0.011,
        nat_gateway_hour=0.048,
        public_ipv4_hour=0.005,
        ec2_hour={"t4g.nano": 0.0046, "t4g.micro": 0.0092, "t4g.small": 0.0184, "t3.nano": 0.0057},
        ebs_gp3_gb_month=0.088,
        cache_node_hour={"cache.t4g.micro": 0.017, "cache.t4g.small": 0.034, "cache.t4g.medium": 0.068},
        fargate_vcpu_hour={"X86_64": 0.04048, "ARM64": 0.03238},
        fargate_gb_hour={"X86_64": 0.004445, "ARM64": 0.00356},
        efs_standard_gb_month=0.33,
        efs_backup_gb_month=0.055,
        eks_cluster_hour=0.10,
    ),
}


class UnknownPriceError(KeyError):
    """A synthesized resource uses a size this table has no price for: add it, do not guess."""


@dataclass(frozen=True)
class LineItem:
    """One priced thing: what it is, how many, and its monthly cost."""

    item: str
    quantity: float
    unit: str
    monthly_usd: float


@dataclass(frozen=True)
class CostEstimate:
    region: str
    items: list[LineItem] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(item.monthly_usd for item in self.items), 2)

    def by_item(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.items:
            totals[line.item] = round(totals.get(line.item, 0.0) + line.monthly_usd, 2)
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "total_usd_month": self.total,
            "items": [vars(item) for item in self.items],
        }


def _resources(templates: Mapping[str, Template]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in templates.items():
        for name, resource in template.get("Resources", {}).items():
            yield stack, name, resource


def _of_type(templates: Mapping[str, Template], resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [entry for entry in _resources(templates) if entry[2]["Type"] == resource_type]


def _props(resource: Mapping[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties", {})
    return props if isinstance(props, dict) else {}


def _price(table: Mapping[str, float], key: str, what: str) -> float:
    if key not in table:
        raise UnknownPriceError(f"no {what} price for {key!r}: add it to knowledgebeast_cdk/costs.py")
    return table[key]


def _network(templates: Mapping[str, Template], p: RegionPrices) -> Iterator[LineItem]:
    endpoint_azs = sum(
        len(_props(r).get("SubnetIds", []))
        for _, _, r in _of_type(templates, "AWS::EC2::VPCEndpoint")
        if _props(r).get("VpcEndpointType") == "Interface"
    )
    if endpoint_azs:
        cost = endpoint_azs * p.interface_endpoint_hour * HOURS_PER_MONTH
        yield LineItem("VPC interface endpoints", endpoint_azs, "endpoint x AZ", cost)
    nat_gateways = len(_of_type(templates, "AWS::EC2::NatGateway"))
    if nat_gateways:
        yield LineItem("NAT gateway", nat_gateways, "gateway", nat_gateways * p.nat_gateway_hour * HOURS_PER_MONTH)
    for _, _, instance in _of_type(templates, "AWS::EC2::Instance"):
        props = _props(instance)
        kind = str(props["InstanceType"])
        yield LineItem(f"EC2 {kind}", 1, "instance", _price(p.ec2_hour, kind, "EC2") * HOURS_PER_MONTH)
        gib = sum(m.get("Ebs", {}).get("VolumeSize", 8) for m in props.get("BlockDeviceMappings", [])) or 8
        yield LineItem("EBS gp3", gib, "GiB", gib * p.ebs_gp3_gb_month)
    # Every Elastic IP (NAT gateways) and every NAT instance (SourceDestCheck off) holds a public IPv4.
    nat_instances = sum(
        1 for _, _, r in _of_type(templates, "AWS::EC2::Instance") if _props(r).get("SourceDestCheck") is False
    )
    addresses = len(_of_type(templates, "AWS::EC2::EIP")) + nat_instances
    if addresses:
        yield LineItem("Public IPv4 addresses", addresses, "address", addresses * p.public_ipv4_hour * HOURS_PER_MONTH)


def _cache(templates: Mapping[str, Template], p: RegionPrices) -> Iterator[LineItem]:
    for _, _, group in _of_type(templates, "AWS::ElastiCache::ReplicationGroup"):
        props = _props(group)
        nodes = int(props.get("NumCacheClusters", 1))
        kind = str(props["CacheNodeType"])
        engine = str(props.get("Engine", "redis")).lower()
        hourly = _price(p.cache_node_hour, kind, "ElastiCache node") * (VALKEY_FACTOR if engine == "valkey" else 1.0)
        yield LineItem(f"ElastiCache {engine} {kind}", nodes, "node", nodes * hourly * HOURS_PER_MONTH)


def _task_definitions(templates: Mapping[str, Template]) -> dict[str, dict[str, Any]]:
    return {name: _props(r) for _, name, r in _of_type(templates, "AWS::ECS::TaskDefinition")}


def _fargate(templates: Mapping[str, Template], p: RegionPrices) -> Iterator[LineItem]:
    tasks = _task_definitions(templates)
    for _, name, service in _of_type(templates, "AWS::ECS::Service"):
        props = _props(service)
        task = tasks[props["TaskDefinition"]["Ref"]]
        count = int(props.get("DesiredCount", 1))
        vcpu, gb = int(task["Cpu"]) / 1024, int(task["Memory"]) / 1024
        arch = task.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
        strategy = props.get("CapacityProviderStrategy", [])
        spot = any(item.get("CapacityProvider") == "FARGATE_SPOT" for item in strategy)
        factor = FARGATE_SPOT_FACTOR if spot else 1.0
        hourly = (vcpu * p.fargate_vcpu_hour[arch] + gb * p.fargate_gb_hour[arch]) * factor
        label = f"Fargate{' Spot' if spot else ''} {vcpu:g} vCPU / {gb:g} GB ({name.split('Service')[0]})"
        yield LineItem(label, count, "task", count * hourly * HOURS_PER_MONTH)
    for _, _, cluster in _of_type(templates, "AWS::ECS::Cluster"):
        settings = {s.get("Name"): s.get("Value") for s in _props(cluster).get("ClusterSettings", [])}
        if settings.get("containerInsights") in ("enabled", "enhanced"):
            metrics = CONTAINER_INSIGHTS_METRICS_PER_CLUSTER
            yield LineItem("Container Insights metrics", metrics, "metric", metrics * p.custom_metric_month)


def _storage(templates: Mapping[str, Template], p: RegionPrices) -> Iterator[LineItem]:
    for _, _, fs in _of_type(templates, "AWS::EFS::FileSystem"):
        backed_up = _props(fs).get("BackupPolicy", {}).get("Status") == "ENABLED"
        per_gb = p.efs_standard_gb_month + (p.efs_backup_gb_month if backed_up else 0.0)
        yield LineItem("EFS (assumed 1 GB stored, with backup)" if backed_up else "EFS", ASSUMED_EFS_GB, "GB", per_gb)
    keys = len(_of_type(templates, "AWS::KMS::Key"))
    if keys:
        yield LineItem("KMS keys", keys, "key", keys * p.kms_key_month)
    secrets = len(_of_type(templates, "AWS::SecretsManager::Secret"))
    if secrets:
        yield LineItem("Secrets Manager secrets", secrets, "secret", secrets * p.secret_month)


def _alarm_metrics(alarm: Mapping[str, Any]) -> int:
    props = _props(alarm)
    if "MetricName" in props:
        return 1
    return sum(1 for metric in props.get("Metrics", []) if "MetricStat" in metric) or 1


def _monitoring(templates: Mapping[str, Template], p: RegionPrices) -> Iterator[LineItem]:
    metrics = sum(_alarm_metrics(r) for _, _, r in _of_type(templates, "AWS::CloudWatch::Alarm"))
    if metrics:
        yield LineItem("CloudWatch alarms", metrics, "alarm metric", metrics * p.alarm_metric_month)
    dashboards = len(_of_type(templates, "AWS::CloudWatch::Dashboard"))
    if dashboards:
        yield LineItem("CloudWatch dashboards", dashboards, "dashboard", dashboards * p.dashboard_month)
    zones = len(_of_type(templates, "AWS::ServiceDiscovery::PrivateDnsNamespace"))
    if zones:
        yield LineItem("Cloud Map namespace (Route 53 zone)", zones, "hosted zone", zones * p.hosted_zone_month)
    instances = len(_of_type(templates, "AWS::ServiceDiscovery::Service"))
    if instances:
        yield LineItem("Cloud Map instances", instances, "instance", instances * p.cloud_map_instance_month)
    clusters = len(_of_type(templates, "AWS::EKS::Cluster"))
    if clusters:
        yield LineItem("EKS control plane", clusters, "cluster", clusters * p.eks_cluster_hour * HOURS_PER_MONTH)


def estimate(templates: Mapping[str, Template], region: str = "us-east-1") -> CostEstimate:
    """The idle monthly cost of the deployment described by ``templates`` (stack name -> template)."""
    prices = PRICES[region]
    items = [
        *_network(templates, prices),
        *_cache(templates, prices),
        *_fargate(templates, prices),
        *_storage(templates, prices),
        *_monitoring(templates, prices),
    ]
    return CostEstimate(
        region=region, items=[LineItem(i.item, i.quantity, i.unit, round(i.monthly_usd, 2)) for i in items]
    )


def load_templates(cdk_out: Path) -> dict[str, dict[str, Any]]:
    """Every ``*.template.json`` of a cloud assembly (``cdk synth`` output), keyed by stack name."""
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in cdk_out.glob("*.template.json")
    }
    if not templates:
        raise FileNotFoundError(f"no *.template.json in {cdk_out}: run `cdk synth` (or python cdk/app.py) first")
    return templates
