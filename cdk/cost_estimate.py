"""Idle monthly cost of the deployment, from the synthesized templates (prices: knowledgebeast_cdk/costs.py).

    python cdk/cost_estimate.py                       # default deployment, us-east-1 and eu-west-1
    python cdk/cost_estimate.py -c profile=dev        # any context flags, as with `cdk deploy -c`
    python cdk/cost_estimate.py --cdk-out cdk.out     # templates of an existing `cdk synth`
    python cdk/cost_estimate.py --table               # the README table: every option side by side

Synthesizes offline with placeholder Lambda folders (no `make layers`, no AWS account): the
templates, and so the counted resources, do not depend on what the layers contain.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledgebeast_cdk.costs import PRICES, CostEstimate, estimate, load_templates

REPO_ROOT = Path(__file__).resolve().parents[1]
Templates = dict[str, dict[str, Any]]
Synthesizer = Callable[[Mapping[str, Any]], Templates]

#: An example existing VPC (ids are placeholders: costs do not depend on them).
EXISTING_VPC: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "vpc_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    "vpc_availability_zones": ["us-east-1a", "us-east-1b"],
    "vpc_route_table_ids": ["rtb-0aaaaaaaaaaaaaaaa", "rtb-0bbbbbbbbbbbbbbbb"],
}


@dataclass(frozen=True)
class Option:
    """One row of the README table: the flags, the context they mean, and what they give up."""

    flags: str
    context: Mapping[str, Any]
    gives_up: str


OPTIONS: tuple[Option, ...] = (
    Option("(default)", {}, "nothing: 2 AZs, no internet route, Multi-AZ cache, on-demand Chroma"),
    Option(
        "`-c egress=nat`",
        {"egress": "nat"},
        "the private-only network: one NAT gateway in one AZ gives the VPC an internet route; "
        "egress from every AZ depends on that AZ; plus $0.045 per GB processed (us-east-1)",
    ),
    Option("`-c max_azs=1`", {"max_azs": 1}, "AZ redundancy: Lambdas, Chroma, EFS and the cache share one AZ"),
    Option(
        "`-c cache_replicas=0`",
        {"cache_replicas": 0},
        "cache failover: a node failure empties the cache (rebuilt from misses; no data loss)",
    ),
    Option(
        "`-c chroma_spot=true`",
        {"chroma_spot": True},
        "steady Chroma: AWS may reclaim the task (2-minute warning): minutes of 503s until it returns",
    ),
    Option(
        "`-c retain_on_delete=false`",
        {"retain_on_delete": False},
        "the safety net: `cdk destroy` deletes buckets (with their objects), EFS, secrets, keys, "
        "no final cache snapshot (no idle saving; nothing is left billing after destroy)",
    ),
    Option(
        "existing VPC, `-c vpc_id=... -c egress=nat`",
        {**EXISTING_VPC, "egress": "nat"},
        "nothing in the app; the VPC's own NAT/endpoints (billed to that VPC) must reach AWS APIs",
    ),
    Option(
        "existing VPC, `-c vpc_id=... -c egress=endpoints`",
        {**EXISTING_VPC, "egress": "endpoints"},
        "nothing; creates the five interface endpoints in the given subnets (fails if the VPC "
        "already has private-DNS endpoints for the same services)",
    ),
    Option(
        "`-c profile=dev`",
        {"profile": "dev"},
        "1 AZ; a single t4g.nano NAT instance (no HA, replaced by CloudFormation rather than "
        "patched); a single cache.t4g.micro; Chroma 0.5 vCPU / 1 GB on Fargate Spot; 7-day logs; "
        "retain_on_delete=false",
    ),
    Option(
        "`-c profile=dev -c egress=nat`",
        {"profile": "dev", "egress": "nat"},
        "as dev, with a managed NAT gateway instead of the NAT instance",
    ),
    Option(
        "`-c profile=dev -c egress=endpoints`",
        {"profile": "dev", "egress": "endpoints"},
        "as dev, with the private-only network (five endpoints in one AZ)",
    ),
)


def synthesize(context: Mapping[str, Any]) -> Templates:
    """Synthesize the whole app with ``context`` (over cdk.json) into a temporary folder."""
    from knowledgebeast_cdk.app_builder import build_app
    from knowledgebeast_cdk.assets import write_placeholder_assets

    with tempfile.TemporaryDirectory(prefix="kb-cost-") as tmp:
        assets = write_placeholder_assets(Path(tmp) / "assets", chroma_image=REPO_ROOT / "containers" / "chromadb")
        outdir = Path(tmp) / "out"
        app, _stacks = build_app(
            assets=assets, context=dict(context), outdir=str(outdir), cfn_validation=False, nag=False
        )
        app.synth()
        return load_templates(outdir)


def cost_table(synth: Synthesizer = synthesize, options: Sequence[Option] = OPTIONS) -> str:
    """The README's Markdown table: idle $/month per option in both priced regions."""
    regions = list(PRICES)
    header = f"| option | {' | '.join(f'{r} $/month' for r in regions)} | gives up |"
    lines = [header, "| --- | " + " | ".join("---:" for _ in regions) + " | --- |"]
    for option in options:
        templates = synth(option.context)
        totals = " | ".join(f"{estimate(templates, region).total:.2f}" for region in regions)
        lines.append(f"| {option.flags} | {totals} | {option.gives_up} |")
    return "\n".join(lines)


def _render(result: CostEstimate) -> str:
    width = max(len(item.item) for item in result.items)
    rows = [
        f"  {item.item:<{width}}  {item.quantity:>6g} {item.unit:<13} ${item.monthly_usd:>8.2f}"
        for item in result.items
    ]
    return "\n".join([f"{result.region}: ${result.total:.2f}/month idle", *rows])


def _context(pairs: Sequence[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"error: -c expects key=value, got {pair!r}")
        context[key] = value
    return context


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--cdk-out", type=Path, help="read templates from this cloud assembly instead")
    parser.add_argument("--region", choices=sorted(PRICES), action="append")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--table", action="store_true", help="print the README table of every option")
    args = parser.parse_args(argv)
    if args.table:
        print(cost_table())
        return 0
    templates = load_templates(args.cdk_out) if args.cdk_out else synthesize(_context(args.context))
    results = [estimate(templates, region) for region in args.region or list(PRICES)]
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
    else:
        print("\n\n".join(_render(result) for result in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
