"""The synthesized CloudFormation templates, and the container health checks they define.

Synthesis needs the CDK venv (``make .venv-cdk/.installed``), so it runs ``synth_app.py`` there
in a subprocess; the application venv only reads the JSON it writes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CDK_PYTHON = REPO / ".venv-cdk" / "bin" / "python"
SYNTH_APP = Path(__file__).with_name("synth_app.py")


def synthesize(outdir: Path, context: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Stack role (``VectorStore``, ``Api``...) -> template, synthesized with ``context`` flags."""
    if not CDK_PYTHON.exists():
        raise RuntimeError(f"{CDK_PYTHON} is missing: run `make .venv-cdk/.installed` (make test does)")
    flags = [f"--context={key}={json.dumps(value)}" for key, value in (context or {}).items()]
    done = subprocess.run(
        [str(CDK_PYTHON), str(SYNTH_APP), str(outdir), *flags], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cdk synth failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }


def ecs_health_checks(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``TaskDefinitionLogicalId/container`` -> the container's ``HealthCheck`` block, as synthesized."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ECS::TaskDefinition":
            continue
        for container in resource["Properties"].get("ContainerDefinitions", []):
            if "HealthCheck" in container:
                found[f"{logical_id}/{container['Name']}"] = container["HealthCheck"]
    return found
