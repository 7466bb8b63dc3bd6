"""Synthesize the CDK app and write one ``<role>.template.json`` per stack into OUTDIR.

Run with the CDK venv (the application venv has no aws-cdk-lib); the rehearsal calls it so that
the health checks it runs are the exact strings of the synthesized templates:

    .venv-cdk/bin/python tests/rehearsal/synth_app.py OUTDIR [--context key=json-value ...]

Lambda assets are the CDK suite's small stand-ins; container folders are the real ones. cdk-nag
runs as in a deploy; the built-in CloudFormation validator is off (the CDK suite keeps one full run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "cdk"), str(REPO / "tests" / "cdk")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--context", action="append", default=[], help="key=value (value parsed as JSON if it can be)")
    args = parser.parse_args(argv)
    context = {}
    for item in args.context:
        key, _, value = item.partition("=")
        try:
            context[key] = json.loads(value)
        except json.JSONDecodeError:
            context[key] = value

    from conftest import make_stub_assets  # tests/cdk/conftest.py: the suite's stand-in assets
    from knowledgebeast_cdk.app_builder import build_app

    args.outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        assets = make_stub_assets(Path(scratch) / "assets")
        cloud_assembly = Path(scratch) / "cdk.out"
        app, stacks = build_app(assets=assets, outdir=str(cloud_assembly), cfn_validation=False, context=context)
        app.synth()
        for role, stack in stacks.by_role().items():
            shutil.copyfile(cloud_assembly / f"{stack.stack_name}.template.json", args.outdir / f"{role}.template.json")


if __name__ == "__main__":
    main()
