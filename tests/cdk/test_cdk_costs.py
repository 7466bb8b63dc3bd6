"""Idle cost estimate: counted from the synthesized templates, dev under $60, README table in sync."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import cost_estimate
import pytest
from cdk_helpers import Synthesized
from conftest import CDK_DIR, REPO_ROOT
from knowledgebeast_cdk.costs import HOURS_PER_MONTH, PRICES, estimate

DEV_BUDGET_USD = 60.0


def _cost(synth: Synthesized, region: str = "us-east-1") -> Any:
    return estimate(synth.templates, region)


def test_default_deployment_is_priced_item_by_item(synth_with: Any) -> None:
    result = _cost(synth_with({}))
    items = result.by_item()
    p = PRICES["us-east-1"]
    assert items["VPC interface endpoints"] == round(5 * 2 * p.interface_endpoint_hour * HOURS_PER_MONTH, 2)
    assert items["ElastiCache valkey cache.t4g.small"] == round(2 * 0.8 * 0.032 * HOURS_PER_MONTH, 2)
    assert items["KMS keys"] == 2 * p.kms_key_month
    assert items["Secrets Manager secrets"] == 4 * p.secret_month
    assert "NAT gateway" not in items and "EKS control plane" not in items
    assert 150 < result.total < 180, result.total  # the review's ~$160, $73 of it endpoints


@pytest.mark.parametrize("region", sorted(PRICES))
def test_dev_profile_idles_under_60_dollars(synth_with: Any, region: str) -> None:
    dev = _cost(synth_with({"profile": "dev"}), region)
    default = _cost(synth_with({}), region)
    assert dev.total < DEV_BUDGET_USD, dev.items
    assert dev.total < default.total / 3


def test_each_cost_option_saves_what_it_claims(synth_with: Any) -> None:
    default = _cost(synth_with({})).total
    nat = _cost(synth_with({"egress": "nat"}))
    assert "VPC interface endpoints" not in nat.by_item() and nat.by_item()["NAT gateway"] > 0
    assert nat.total < default
    assert _cost(synth_with({"cache_replicas": 0})).total < default
    assert _cost(synth_with({"chroma_spot": True})).total < default
    assert _cost(synth_with({"max_azs": 1})).total < default
    assert _cost(synth_with({"retain_on_delete": False})).total == default


def test_eks_fallback_adds_its_control_plane_and_nat(synth: Synthesized) -> None:
    items = _cost(synth).by_item()
    assert items["EKS control plane"] == round(PRICES["us-east-1"].eks_cluster_hour * HOURS_PER_MONTH, 2)
    assert items["NAT gateway"] > 0


def test_readme_table_matches_the_synthesized_costs(synth_with: Any) -> None:
    """The table in README.md is exactly what `python cdk/cost_estimate.py --table` prints."""
    table = cost_estimate.cost_table(lambda context: synth_with(dict(context)).templates)
    readme = (REPO_ROOT / "README.md").read_text()
    assert table in readme, f"README.md is stale; paste `python cdk/cost_estimate.py --table`:\n{table}"


def test_script_prices_an_existing_cloud_assembly(synth_with: Any) -> None:
    outdir = synth_with({"profile": "dev"}).outdir
    result = subprocess.run(
        [sys.executable, str(CDK_DIR / "cost_estimate.py"), "--cdk-out", str(outdir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reports = {report["region"]: report for report in json.loads(result.stdout)}
    assert set(reports) == set(PRICES)
    for report in reports.values():
        assert report["total_usd_month"] < DEV_BUDGET_USD
        assert any(item["item"].startswith("Fargate Spot") for item in report["items"])


@pytest.mark.parametrize("profile", ["production", "dev"])
def test_script_synthesizes_and_prices_each_profile(profile: str) -> None:
    result = subprocess.run(
        [sys.executable, str(CDK_DIR / "cost_estimate.py"), "-c", f"profile={profile}", "--region", "us-east-1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    first = result.stdout.splitlines()[0]
    total = float(first.split("$", 1)[1].split("/", 1)[0])
    assert (total < DEV_BUDGET_USD) == (profile == "dev"), result.stdout
