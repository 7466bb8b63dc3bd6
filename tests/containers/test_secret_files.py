"""The init-container tool that turns Secrets Manager values into files (moto Secrets Manager)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest


def test_values_become_owner_only_files_and_config_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3
    from aws_lambda_powertools.utilities.parameters import clear_caches
    from moto import mock_aws

    from knowledgebeast.tools.secret_files import main

    clear_caches()
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        token = client.create_secret(Name="kb/chroma", SecretString="t" * 40)["ARN"]
        password = client.create_secret(Name="kb/redis", SecretString="s3cret pass")["ARN"]
        files = [f"chroma-token={token}", f"valkey.conf={password}"]
        code = main([str(tmp_path / "run"), *files, "--line", "valkey.conf=requirepass {}"])
        missing = main([str(tmp_path / "other"), "x=arn:aws:secretsmanager:us-east-1:123456789012:secret:nope"])
    clear_caches()

    assert code == 0 and missing == 2
    assert (tmp_path / "run" / "chroma-token").read_text() == "t" * 40
    assert (tmp_path / "run" / "valkey.conf").read_text() == "requirepass s3cret pass\n"
    assert stat.S_IMODE((tmp_path / "run" / "chroma-token").stat().st_mode) == 0o400
    out = capsys.readouterr()
    assert "s3cret" not in out.out + out.err and "t" * 40 not in out.out + out.err
    assert not (tmp_path / "other" / "x").exists()
