"""Fargate Spot for the Chroma service (``chroma_spot``, on in the dev profile).

Spot costs about 70 % less than on-demand Fargate; AWS may reclaim the task with a two-minute
warning (SIGTERM, then the service starts a replacement when capacity returns). For the single
Chroma writer that means minutes of 503s now and then, which a dev stack can accept and
production should not. Applied after the service is built so the vector-store constructs stay
unchanged for the on-demand default.
"""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs

SPOT = "FARGATE_SPOT"


def run_on_fargate_spot(cluster: ecs.Cluster, service: ecs.FargateService) -> None:
    """Associate the Fargate capacity providers with ``cluster`` and place every task on Spot.

    The association is created here (not by ``enable_fargate_capacity_providers``, whose aspect
    adds it at synth time) so the service can depend on it: a service that names FARGATE_SPOT
    before the cluster knows the provider fails to create.
    """
    associations = ecs.CfnClusterCapacityProviderAssociations(
        cluster,
        "FargateCapacityProviders",
        cluster=cluster.cluster_name,
        capacity_providers=["FARGATE", SPOT],
        default_capacity_provider_strategy=[],
    )
    cfn = service.node.default_child
    assert isinstance(cfn, ecs.CfnService)
    # A capacity provider strategy and a launch type are mutually exclusive.
    cfn.add_property_deletion_override("LaunchType")
    cfn.capacity_provider_strategy = [
        ecs.CfnService.CapacityProviderStrategyItemProperty(capacity_provider=SPOT, weight=1)
    ]
    cfn.node.add_dependency(associations)
