"""checkov's Kubernetes checks over cdk/manifests: no failure; each skip is an annotation with a reason.

checkov lives in its own venv (.venv-checkov, made by `make test`): its pins clash with both the
application's and the CDK's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from knowledgebeast_cdk.manifests import all_manifests

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def checkov(target: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} missing: run `make .venv-checkov/.installed` (make test does)")
    flag = "-d" if target.is_dir() else "-f"
    done = subprocess.run(
        [str(CHECKOV), flag, str(target), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    result: dict[str, Any] = report[0] if isinstance(report, list) else report
    return result


def test_no_checkov_failures_in_the_committed_manifests() -> None:
    report = checkov(REPO / "cdk" / "manifests")
    assert report["summary"]["parsing_errors"] == 0
    failed = [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 400


def test_every_acknowledgement_carries_a_reason() -> None:
    skips = [
        value
        for doc in all_manifests()
        for key, value in doc["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    ]
    assert skips
    for skip in skips:
        check, _, reason = skip.partition("=")
        assert check.startswith("CKV_K8S_") and len(reason) > 40, skip


def test_checkov_fails_a_workload_without_its_acknowledgement(tmp_path: Path) -> None:
    (worker,) = [d for d in all_manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "worker"]
    worker["metadata"].pop("annotations")
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(worker))
    failed = {f["check_id"] for f in checkov(path)["results"]["failed_checks"]}
    assert {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_43"} <= failed
