"""App wiring: context parsing, cdk.json flags, asset checks, and the `python cdk/app.py` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cdk_helpers import Synthesized
from conftest import REPO_ROOT, make_stub_assets
from knowledgebeast_cdk import assets as assets_module
from knowledgebeast_cdk.app_builder import load_cdk_json_context, retention
from knowledgebeast_cdk.assets import AssetPaths, AssetTooLargeError, MissingAssetError
from knowledgebeast_cdk.settings import DeploymentSettings, SettingsError


def test_cli_strings_are_converted() -> None:
    settings = DeploymentSettings.from_mapping(
        {
            "eks": "true",
            "chroma_cpu": "2048",
            "chroma_memory_mib": 4096,
            "api_throttle_rate": "12.5",
            "cors_origins": "https://a.example, https://b.example",
            "ingest_reserved_concurrency": "4",
        }
    )
    assert settings.eks is True
    assert (settings.chroma_cpu, settings.chroma_memory_mib) == (2048, 4096)
    assert settings.api_throttle_rate == 12.5
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.ingest_reserved_concurrency == 4
    assert DeploymentSettings.from_mapping({"cors_origins": ["https://c.example"]}).cors_origins == (
        "https://c.example",
    )


@pytest.mark.parametrize(
    "context",
    [
        {"eks": "maybe"},
        {"chroma_cpu": "lots"},
        {"ingest_reserved_concurrency": -1},
        # A reservation below the event source's cap throttles pollers and burns receive counts.
        {"ingest_reserved_concurrency": 1},
        {"ingest_max_concurrency": 1},
        {"backup_reserved_concurrency": -1},
        {"cache_engine": "memcached"},
        {"profile": "staging"},
        {"egress": "vpn"},
        {"retain_on_delete": "perhaps"},
    ],
)
def test_bad_context_fails_the_synth(context: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        DeploymentSettings.from_mapping(context)


def test_log_retention_must_be_a_cloudwatch_choice() -> None:
    retention(30)
    with pytest.raises(SettingsError):
        retention(31)


def test_cdk_json_runs_the_app_and_carries_feature_flags(synth: Synthesized) -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 cdk/app.py"
    context = load_cdk_json_context()
    flags = {key for key in context if key.startswith("@aws-cdk")}
    assert len(flags) > 50
    # build_app passes them into App(context=...), so `python cdk/app.py` honours them too.
    for flag in ("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", "@aws-cdk/core:defaultCrossStackReferences"):
        assert synth.stacks.network.node.try_get_context(flag) == context[flag]


def test_missing_layer_build_names_the_command(tmp_path: Path) -> None:
    paths = make_stub_assets(tmp_path)
    paths = AssetPaths(**{**vars(paths), "deps_layer": tmp_path / "build" / "nowhere"})
    with pytest.raises(MissingAssetError, match="make layers"):
        paths.require_present()


def test_wrong_layer_layout_is_rejected(tmp_path: Path) -> None:
    paths = make_stub_assets(tmp_path)
    (tmp_path / "build/layers/models/models/all-MiniLM-L6-v2/config.json").rename(tmp_path / "build/layers/models/x")
    (tmp_path / "build/layers/models/models/all-MiniLM-L6-v2").rmdir()
    (tmp_path / "build/layers/models/models").rmdir()
    with pytest.raises(MissingAssetError, match="Lambda layout"):
        paths.require_layer_layout()


def test_oversized_function_is_rejected_before_deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_stub_assets(tmp_path)
    paths.require_within_lambda_limit()
    monkeypatch.setattr(assets_module, "LAMBDA_UNZIPPED_LIMIT_BYTES", 10)
    with pytest.raises(AssetTooLargeError, match="query"):
        paths.require_within_lambda_limit()


def test_cdk_app_entry_point_explains_missing_layers(tmp_path: Path) -> None:
    """`python cdk/app.py` (what `cdk synth` runs) stops with exit 2 and a hint, not a traceback."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"deps_layer_dir": str(tmp_path / "no-deps")}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "cdk" / "app.py")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "make layers" in result.stderr
    assert "Traceback" not in result.stderr
