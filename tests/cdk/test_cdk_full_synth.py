"""The one full synth with CloudFormation's built-in validation on (slow: ~30 s, ~550 MB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_stub_assets
from knowledgebeast_cdk.app_builder import build_app


@pytest.mark.slow
def test_full_synth_with_cloudformation_validation(tmp_path: Path) -> None:
    assets = make_stub_assets(tmp_path / "assets")
    app, stacks = build_app(assets=assets, outdir=str(tmp_path / "out"), cfn_validation=True, context={"eks": True})
    assembly = app.synth()
    assert sorted(stack.stack_name for stack in assembly.stacks) == sorted(s.stack_name for s in stacks.all())
    assert len(assembly.stacks) == 9
