"""`knowledgebeast backup | restore | verify` and `python -m knowledgebeast.tools.verify_data`: exit codes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledgebeast.backup.manifest import find_latest, load_manifest
from knowledgebeast.backup.storage import LocalBlobStore, ScopedBlobStore
from tests.backup.conftest import Source
from tests.backup.helpers import flip_byte

RunCli = Callable[..., int]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, source: Source, tmp_path: Path) -> RunCli:
    """Run the real CLI entry point; ``store="source"`` uses the source server, ``"local"`` an
    embedded store under a fresh DATA_DIR (the wiped machine)."""
    from knowledgebeast import cli
    from knowledgebeast.config import get_settings

    def run(*argv: str, store: str = "source") -> int:
        monkeypatch.setenv("APP_ENV", "test")
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("BACKUP_BUCKET", raising=False)
        if store == "source":
            monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
            monkeypatch.setenv("CHROMA_PORT", str(source.port))
        else:
            monkeypatch.delenv("CHROMA_HOST", raising=False)
        get_settings.cache_clear()
        try:
            return cli.main(list(argv))
        finally:
            get_settings.cache_clear()

    return run


def test_backup_verify_restore_exit_codes(run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "backups"
    assert run_cli("backup", "--dest", str(dest), "--page-size", "200", "--deadline", "0") == 1
    assert "incomplete" in capsys.readouterr().out
    assert run_cli("verify", f"{dest}/latest") == 2  # nothing complete yet: an error, not a verdict
    assert run_cli("backup", "--dest", str(dest)) == 0
    assert capsys.readouterr().out.startswith("complete: ")

    prefix = find_latest(LocalBlobStore(dest))
    assert prefix is not None
    folder = dest / prefix
    assert run_cli("verify", str(folder)) == 0
    assert capsys.readouterr().out.startswith("OK: ")

    assert run_cli("restore", f"{dest}/latest", store="local") == 0
    assert run_cli("restore", f"{dest}/latest", store="local") == 2
    assert "already holds data" in capsys.readouterr().err
    assert run_cli("restore", str(folder), "--force", store="local") == 0

    manifest = load_manifest(ScopedBlobStore(LocalBlobStore(dest), prefix))
    part = folder / manifest.collections[-1].parts[0].key
    part.write_bytes(flip_byte(part.read_bytes(), 30))
    assert run_cli("verify", str(folder)) == 1
    assert "is corrupt" in capsys.readouterr().out
    assert run_cli("verify", str(tmp_path / "no-such-backup")) == 1


def test_default_destination_is_under_data_dir(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("backup", "--kind", "hourly") == 0
    assert (find_latest(LocalBlobStore(tmp_path / "data" / "backups")) or "").startswith("hourly/")


def test_verify_data_module(run_cli: RunCli, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    assert run_cli("backup", "--dest", str(dest)) == 0
    command = [sys.executable, "-m", "knowledgebeast.tools.verify_data"]
    good = subprocess.run([*command, f"{dest}/latest"], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("OK: ")

    folder = dest / (find_latest(LocalBlobStore(dest)) or "")
    (folder / "manifest.json").write_text("{not json")
    bad = subprocess.run([*command, str(folder)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "not valid JSON" in bad.stdout
    missing = subprocess.run([*command, f"{tmp_path}/empty/latest"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no complete backup" in missing.stderr
