"""Lambda building blocks: the three layers and a VPC-bound Python function.

Layers come from folders that are already in the Lambda layout (``python/``, ``models/``): no
Docker bundling at synth, so ``cdk synth`` works offline and the build stays reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from knowledgebeast_cdk.assets import ASSET_EXCLUDES, BUILT_LAYER_EXCLUDES

#: The layers are built for CPython 3.12 manylinux x86_64 wheels (see platform notes).
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64


class ApplicationLayers(Construct):
    """Third-party dependencies, the ONNX model, and the knowledgebeast package, one layer each.

    Split so that a code change re-uploads only the small package layer, and the 100+ MB
    dependency and model layers keep their hashes between deploys.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, deps_dir: Path, models_dir: Path, package_dir: Path
    ) -> None:
        super().__init__(scope, construct_id)
        self.dependencies = self._layer(
            "Dependencies", deps_dir, "Python dependencies (manylinux x86_64)", excludes=BUILT_LAYER_EXCLUDES
        )
        self.models = self._layer("Models", models_dir, "Embedding model (ONNX) under /opt/models")
        self.package = self._layer("Package", package_dir, "The knowledgebeast package")

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.models, self.package]

    def _layer(
        self, construct_id: str, directory: Path, description: str, excludes: Sequence[str] = ASSET_EXCLUDES
    ) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(directory), exclude=list(excludes)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=f"KnowledgeBeast: {description}",
            # Old versions are deleted once an update succeeds (rollback still has them), so
            # repeated deploys of 100+ MB layers do not fill the account's code storage.
            removal_policy=RemovalPolicy.DESTROY,
        )


class VpcFunction(Construct):
    """A Python 3.12 function in the private subnets, with its own log group and retention."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: Path,
        description: str,
        layers: Sequence[lambda_.ILayerVersion],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        environment: Mapping[str, str],
        memory_mib: int,
        timeout: Duration,
        log_retention: logs.RetentionDays,
        reserved_concurrency: int | None = None,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(code_dir), exclude=list(ASSET_EXCLUDES)),
            description=description,
            layers=list(layers),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            environment=dict(environment),
            memory_size=memory_mib,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            # SnapStart: init runs once per published version, environments restore from its snapshot
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
