"""Run a container's command and its exact health check outside Docker.

The health check runs with ``PATH`` holding only the binaries the image has (symlinks in a
scratch folder), so a check that needs curl fails here as it would in the image.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def image_path(folder: Path, binaries: Mapping[str, str | Path]) -> str:
    """A PATH of exactly ``binaries`` (name in the image -> executable here)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in binaries.items():
        link = folder / name
        if not link.exists():
            link.symlink_to(Path(str(target)).resolve())
    return str(folder)


def host_binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is needed on this machine to rehearse"
    return found


def health_check(test: Sequence[str], env: Mapping[str, str]) -> int:
    """Run a Compose/Docker ``healthcheck.test`` (``CMD`` form) once; its exit code."""
    assert test[0] == "CMD", f"only the exec form is rehearsed, got {test[0]}"
    return subprocess.run(list(test[1:]), env=dict(env), capture_output=True, timeout=30).returncode


def until_healthy(test: Sequence[str], env: Mapping[str, str], process: subprocess.Popen[bytes]) -> None:
    """Repeat the check like Docker does during ``start_period`` until it passes (or the process dies)."""
    deadline = time.monotonic() + 120
    while health_check(test, env) != 0:
        if process.poll() is not None:
            raise AssertionError(
                f"process exited with {process.returncode}: {process.stderr and process.stderr.read()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"health check never passed: {test}")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
