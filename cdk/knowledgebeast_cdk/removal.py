"""The ``retain_on_delete`` switch, applied the same way by every stack that holds data.

Retain (default): ``cdk destroy`` leaves buckets, keys, secrets and the Chroma file system in the
account and takes a final cache snapshot. Destroy (dev stacks): everything goes, nothing is kept.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy


def removal_policy(retain: bool, *, snapshot: bool = False) -> RemovalPolicy:
    """Keep the resource (or, for ``snapshot`` resources, a final snapshot of it), or delete it."""
    if not retain:
        return RemovalPolicy.DESTROY
    return RemovalPolicy.SNAPSHOT if snapshot else RemovalPolicy.RETAIN
