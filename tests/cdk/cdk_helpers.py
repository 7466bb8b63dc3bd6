"""Helpers shared by the CDK tests (templates as dicts, lookups that must match exactly once)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
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


def cfn_lint_errors(templates: Sequence[str]) -> list[str]:
    """cfn-lint's error-level findings over ``templates``; warnings are ignored.

    Two cfn-lint processes, one per core: schema loading dominates its run time.
    """
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    runs = [
        subprocess.Popen(
            [cfn_lint, "--format", "json", "--regions", "us-east-1", "--", *templates[half::2]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in (0, 1)
        if templates[half::2]
    ]
    findings = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert stdout.strip(), f"cfn-lint produced no report: {stderr}"
        findings.extend(json.loads(stdout))
    return [f"{f['Filename']}: {f['Rule']['Id']} {f['Message']}" for f in findings if f["Level"] == "Error"]
