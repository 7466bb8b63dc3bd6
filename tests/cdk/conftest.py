"""Shared fixtures for the infrastructure tests (run them with the CDK venv: .venv-cdk).

The whole app (EKS fallback included) is synthesized once per session without the built-in
CloudFormation validator (it costs ~10 s per synth); ``test_full_synth.py`` keeps the one full
synth with validation on. Lambda layer folders are small stand-ins so the tests never depend on
``make layers``.

In a venv without aws-cdk-lib (the application's), this directory is skipped entirely.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_DIR = REPO_ROOT / "cdk"

if importlib.util.find_spec("aws_cdk") is None:  # pragma: no cover - depends on the venv
    collect_ignore_glob = ["test_*.py"]
else:
    sys.path.insert(0, str(CDK_DIR))

from cdk_helpers import Synthesized  # noqa: E402


def make_stub_assets(root: Path) -> Any:
    """Folders in the Lambda layer layout, a few bytes each, plus the real Chroma image folder."""
    from knowledgebeast_cdk.assets import AssetPaths

    files = {
        "functions/query/handler.py": "def handler(event, context):\n    return {}\n",
        "functions/ingest/handler.py": "def handler(event, context):\n    return {}\n",
        "functions/backup/handler.py": "def handler(event, context):\n    return {}\n",
        "functions/reconcile/handler.py": "def handler(event, context):\n    return {}\n",
        "layers/knowledgebeast/python/knowledgebeast/__init__.py": "",
        "build/layers/deps/python/stub_dependency/__init__.py": "",
        "build/layers/models/models/all-MiniLM-L6-v2/config.json": "{}\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    paths = AssetPaths.for_repo(root)
    return AssetPaths(**{**vars(paths), "chroma_image": REPO_ROOT / "containers" / "chromadb"})


@pytest.fixture(scope="session")
def stub_assets(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_stub_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def synth(stub_assets: Any, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One synth of every stack (eks on), cdk-nag included: a finding fails this fixture."""
    from knowledgebeast_cdk.app_builder import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stacks = build_app(assets=stub_assets, outdir=str(outdir), cfn_validation=False, context={"eks": True})
    app.synth()
    templates = {
        role: json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
        for role, stack in stacks.by_role().items()
    }
    return Synthesized(outdir=outdir, stacks=stacks, templates=templates)
