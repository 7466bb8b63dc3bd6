"""Helpers shared by the CDK tests (templates as dicts, lookups that must match exactly once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Synthesized:
    """The cloud assembly of one synth: outdir, stack handles, and templates by role."""

    outdir: Path
    stacks: Any  # knowledgebeast_cdk.app_builder.KnowledgeBeastStacks
    templates: dict[str, dict[str, Any]]

    def template(self, role: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[role])

    def resources(self, role: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.templates[role]["Resources"].items()
            if resource["Type"] == resource_type
        }


def find_one(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, f"expected exactly one resource, got {sorted(resources)}"
    return next(iter(resources.items()))
