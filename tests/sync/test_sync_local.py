"""``knowledgebeast sync DIR`` against a real Chroma server: add, change, keep, delete, fail, resume."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from knowledgebeast.cli import main
from knowledgebeast.identity import document_id
from tests.conftest import REPO
from tests.sync.conftest import registry_view, summary_of


def _doc(i: int, version: int = 1) -> str:
    return f"# Note {i}\n\nRunbook note {i}, revision {version}: restart the worker {i} if it stalls.\n"


def _write(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"note-{i:03d}.md").write_text(_doc(i))


def test_sync_adds_changes_keeps_and_deletes(
    cli_env: dict[str, str], tmp_path: Path, collection_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from knowledgebeast.config import get_settings
    from knowledgebeast.factory import build_services

    folder = tmp_path / "notes"
    _write(folder, 6)
    assert main(["sync", str(folder), "--collection", collection_name]) == 0
    first = summary_of(capsys.readouterr().out)
    assert (first["compared"], first["added"], first["unchanged"], first["failed"]) == ("6", "6", "0", "0")

    (folder / "note-001.md").write_text(_doc(1, version=2))
    (folder / "note-002.md").unlink()
    (folder / "note-009.md").write_text(_doc(9))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    assert main(["sync", str(folder), "--collection", collection_name, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "would add" in dry and "would change" in dry and "keep (no --delete)" in dry

    assert main(["sync", str(folder), "--collection", collection_name, "--delete"]) == 1  # the broken pdf
    captured = capsys.readouterr()
    second = summary_of(captured.out)
    assert (second["added"], second["changed"], second["unchanged"], second["deleted"]) == ("1", "1", "4", "1")
    assert second["failed"] == "1" and "broken.pdf" in captured.err

    ingest = build_services(get_settings()).ingest_service
    scope = str(folder.resolve()) + "/"
    expected = {str(p.resolve()) for p in folder.iterdir() if p.suffix == ".md"}
    assert set(registry_view(ingest, scope)) == expected
    changed = document_id(collection_name, str((folder / "note-001.md").resolve()))
    texts = [c.text for c in ingest.store.get_where(collection_name, {"document_id": {"$eq": changed}})]
    assert texts and all("revision 2" in t for t in texts)
    gone = document_id(collection_name, str((folder / "note-002.md").resolve()))
    assert ingest.store.get_where(collection_name, {"document_id": {"$eq": gone}}) == []

    (folder / "broken.pdf").unlink()
    assert main(["sync", str(folder), "--collection", collection_name, "--delete"]) == 0
    third = summary_of(capsys.readouterr().out)
    assert (third["unchanged"], third["added"], third["changed"], third["deleted"]) == ("6", "0", "0", "0")


def test_sync_of_a_missing_folder_is_a_clear_error(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "/nonexistent/folder"]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_sync_resumes_without_redoing_finished_work(
    cli_env: dict[str, str], tmp_path: Path, collection_name: str
) -> None:
    """A sync process is SIGKILLed mid-way; the next run ingests only what the first did not commit."""
    from knowledgebeast.config import get_settings
    from knowledgebeast.factory import build_services

    total = 40
    folder = tmp_path / "many"
    _write(folder, total)
    env = {**os.environ, **cli_env}
    command = [sys.executable, "-m", "knowledgebeast.cli", "sync", str(folder), "--collection", collection_name]
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ingest = build_services(get_settings()).ingest_service
    scope = str(folder.resolve()) + "/"
    try:
        while len(registry_view(ingest, scope)) < 8:
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    done_before = len(registry_view(ingest, scope))
    assert 8 <= done_before < total

    resumed = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    summary = summary_of(resumed.stdout)
    # the killed run's document in flight may have committed after the count: it is unchanged too
    assert int(summary["unchanged"]) >= done_before and int(summary["added"]) == total - int(summary["unchanged"])
    assert summary["failed"] == "0" and summary["changed"] == "0"
    assert len(registry_view(ingest, scope)) == total
    chunks = ingest.store.get_where(collection_name, {"source": {"$in": sorted(registry_view(ingest, scope))}})
    assert len({c.metadata["document_id"] for c in chunks}) == total
