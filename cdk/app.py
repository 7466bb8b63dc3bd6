"""CDK entry point (``cdk synth`` / ``cdk deploy`` run this through cdk.json): instantiate only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledgebeast_cdk.app_builder import build_app
from knowledgebeast_cdk.assets import AssetTooLargeError, MissingAssetError
from knowledgebeast_cdk.settings import SettingsError


def main() -> int:
    try:
        app, _stacks = build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
    except (MissingAssetError, AssetTooLargeError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
