"""Python 3.12 bytecode for the Lambda layers (``layers/build.py --bytecode``).

Why: Lambda's /opt is read-only, so a layer without ``__pycache__`` makes every cold start compile
every module it imports (the issue measured 3.2-4.7 s to the first answer without bytecode,
1.45-2.4 s with it). Why not all of it: bytecode of every module grows the deps layer by ~33 MB,
which does not fit beside the 91 MB fp32 model under the 250 MB limit. So only the files the
functions really load are compiled (the Python 3.12 check records them after importing both
handlers, priming the query handler and embedding once): the cold path gets bytecode, the rest of
each distribution stays source only.

How the files are written:

* third-party modules: *sourceless* pycs (``foo.pyc`` where ``foo.py`` was, the source removed).
  The deps layer is immutable per build stamp, so nothing can go stale; a pyc in ``__pycache__``
  next to its source would have to be validated (Lambda does not keep zip timestamps reliably;
  hash checks read every source) and would add ~18 MB on top of the sources: with the sources
  replaced the layer grows by only the difference. Tracebacks through these files keep their
  line numbers but not the source text;
* the knowledgebeast package (its own layer, built from the repository folder): ``checked-hash``
  pycs written into the *deps* layer at ``python/knowledgebeast/__pycache__/``. Lambda extracts every
  layer into /opt, so they land next to the package's sources in /opt/python/knowledgebeast; being
  checked, a pyc whose source changed since the deps layer was built is ignored, never run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

#: Whole packages compiled as well: the first real query loads them (anyio's worker threads, the
#: first HTTP connection to Chroma), and the check, whose Chroma is a closed port, never does.
FIRST_QUERY_PACKAGES = ("anyio", "httpcore", "httpx", "h11")

COMPILE_SCRIPT = r"""
import json, py_compile, sys
jobs = json.loads(sys.stdin.read())
modes = {"unchecked": py_compile.PycInvalidationMode.UNCHECKED_HASH,
         "checked": py_compile.PycInvalidationMode.CHECKED_HASH}
for source, target, mode in jobs:
    py_compile.compile(source, cfile=target, dfile=source, doraise=True, invalidation_mode=modes[mode])
print(len(jobs))
"""


def cache_path(source: Path, root: Path, target_root: Path, tag: str = "cpython-312") -> Path:
    """``target_root/<same relative dir>/__pycache__/<name>.<tag>.pyc`` for ``source`` under ``root``."""
    relative = source.relative_to(root)
    return target_root / relative.parent / "__pycache__" / f"{relative.stem}.{tag}.pyc"


def compile_layers(python: str, site: Path, package_root: Path, loaded: list[str]) -> dict[str, Any]:
    """Compile the loaded third-party files (unchecked) and the whole package (checked, into ``site``)."""
    jobs: list[tuple[str, str, str]] = []
    site = site.resolve()
    extra = [str(p) for package in FIRST_QUERY_PACKAGES for p in (site / package).rglob("*.py")]
    for name in sorted(set(loaded) | set(extra)):
        path = Path(name).resolve()
        if path.suffix == ".py" and site in path.parents:
            jobs.append((str(path), str(path.with_suffix(".pyc")), "unchecked"))
    third_party = len(jobs)
    for path in sorted((package_root / "knowledgebeast").rglob("*.py")):
        jobs.append((str(path), str(cache_path(path, package_root, site)), "checked"))
    result = subprocess.run(
        [python, "-S", "-E", "-c", COMPILE_SCRIPT], input=json.dumps(jobs), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"bytecode compilation failed:\n{result.stderr[-3000:]}")
    source_bytes = 0
    for source, _, mode in jobs:
        if mode == "unchecked":  # now sourceless: the pyc is the module
            source_bytes += Path(source).stat().st_size
            Path(source).unlink()
    pyc_bytes = sum(Path(target).stat().st_size for _, target, _ in jobs)
    return {
        "third_party_files": third_party,
        "package_files": len(jobs) - third_party,
        "pyc_bytes": pyc_bytes,
        "removed_source_bytes": source_bytes,
    }
