#!/usr/bin/env python3
"""Build the Lambda layers under build/layers/ and report what each function mounts (``make layers``).

Layers (Lambda mounts each at /opt):

- ``deps/python/``: third-party runtime dependencies for the *Lambda* runtime (CPython 3.12,
  manylinux x86_64), installed with ``pip --platform ... --only-binary=:all: --target`` from
  layers/requirements-lambda.txt, whatever this machine runs. Then trimmed: tests, headers, type
  stubs, console scripts, and distributions nothing needs at run time (``huggingface_hub`` and
  ``hf_xet``, which ``tokenizers`` declares but only uses to download models, plus whatever only
  they required). Each removal is checked by importing and running the real handlers under a
  Python 3.12 interpreter when one is available (``--check``, on by default).
- ``models/models/<model>/``: the embedding model (one variant, tokenizer, manifest), which
  appears at /opt/models/<model> where ``Settings`` looks by default.
- The package layer is ``layers/knowledgebeast`` itself (already ``python/knowledgebeast``), shipped
  as is, so the search page's files (``knowledgebeast/web/``) travel with the code; the build checks
  they are there and the Python 3.12 check serves the page through the query handler.

Lambda refuses function code + layers above 250 MB unzipped (262,144,000 bytes). The report
sums, per function, its code and every layer (the stacks attach all three to every function),
prints a table and writes build/layers/sizes.json; it fails when a function is over the limit.
Bytes are counted like the CDK assets count them (no ``__pycache__``, ``*.pyc``, ``*.egg-info``).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "layers" / "requirements-lambda.txt"
PACKAGE_LAYER = REPO / "layers" / "knowledgebeast"
FUNCTIONS = REPO / "functions"
MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_MODEL_DIR = REPO / "build" / "models" / MODEL_NAME

PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")

# The size rules are the CDK's (what its asset staging leaves out, Lambda's unzipped limit), read
# from the one module that defines them: stdlib-only, so this script needs no CDK installed.
sys.path.insert(0, str(REPO / "cdk"))
from knowledgebeast_cdk.assets import (  # noqa: E402
    ASSET_EXCLUDES,
    BUILT_LAYER_EXCLUDES,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    folder_size,
)

#: Non-Python files the package layer must carry: the search page served at / by the query function.
PACKAGE_DATA = ("web/index.html", "web/app.js", "web/app.css", "web/icon.svg")
#: Bump when the trimming rules change, so a cached deps layer is rebuilt.
TRIM_VERSION = "2"

#: Distributions removed with everything only they required. tokenizers declares huggingface-hub
#: for ``Tokenizer.from_pretrained`` (downloads); we load tokenizer.json from the model layer.
#: botocore (pulled by aws-xray-sdk) ships with the Lambda Python runtime, like boto3.
REMOVE_DISTRIBUTIONS = ("huggingface-hub", "hf-xet", "botocore")
#: Directories never needed at run time (matched by name anywhere outside *.dist-info, whose
#: licenses/ folders are kept).
REMOVE_DIR_NAMES = ("tests", "test", "__pycache__")
#: Relative paths removed (ONNX Runtime's model-conversion tools, numpy's Fortran wrapper
#: generator, console scripts). ``libonnxruntime.so`` is the C API library: the Python binding
#: links ONNX Runtime statically and never loads it (checked with readelf and by --check).
REMOVE_PATHS = (
    "bin",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/datasets",
    "onnxruntime/capi/libonnxruntime.so.*",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "numpy/_core/include",
    "lxml/includes",
)
#: Files never needed at run time: type stubs, C/Cython sources and headers.
REMOVE_FILE_PATTERNS = ("*.pyi", "*.pxd", "*.pyx", "*.h", "*.c", "*.cpp")
#: dist-info files that are wrong after trimming (RECORD) or only matter to pip.
REMOVE_DIST_INFO_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")

#: Modules the functions import, checked under Python 3.12 with only the layers on sys.path.
CHECK_IMPORTS = (
    "chromadb",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "fastapi",
    "mangum",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.parameters",
    "redis",
    "pydantic_settings",
    "yaml",
    "pypdf",
    "docx",
    "prometheus_client",
    "jwt",
    "charset_normalizer",
    "snowballstemmer",
    "Stemmer",
    "multipart",
    "knowledgebeast.api.app",
    "knowledgebeast.aws.s3_events",
    "knowledgebeast.cache.redis_cache",
    "knowledgebeast.store.chroma",
)
#: Must be gone from the deps layer (proves the trimming happened and nothing needs them).
CHECK_ABSENT = ("huggingface_hub", "hf_xet", "fsspec")


# sizes ------------------------------------------------------------------------------------------
def size_report(
    layers: dict[str, Path], functions: Iterable[Path], *, shipped_bytecode: Iterable[str] = ()
) -> dict[str, Any]:
    """``shipped_bytecode``: layers whose ``__pycache__`` is part of the layer (``--bytecode``)."""
    with_pyc = set(shipped_bytecode)
    layer_bytes = {
        name: folder_size(path, BUILT_LAYER_EXCLUDES if name in with_pyc else ASSET_EXCLUDES)
        for name, path in layers.items()
    }
    report: dict[str, Any] = {"limit_bytes": LAMBDA_UNZIPPED_LIMIT_BYTES, "layers": layer_bytes, "functions": {}}
    for function in functions:
        code = folder_size(function)
        total = code + sum(layer_bytes.values())
        report["functions"][function.name] = {
            "code_bytes": code,
            "layers": sorted(layer_bytes),
            "total_bytes": total,
            "headroom_bytes": LAMBDA_UNZIPPED_LIMIT_BYTES - total,
            "fits": total <= LAMBDA_UNZIPPED_LIMIT_BYTES,
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    mb = 1_000_000
    print("\nLayer sizes (unzipped)")
    for name, size in report["layers"].items():
        print(f"  {name:<10} {size / mb:8.1f} MB")
    print(f"\n{'function':<10} {'code MB':>8} {'+ layers MB':>12} {'total MB':>9} {'limit MB':>9}  fits")
    for name, row in report["functions"].items():
        layers = row["total_bytes"] - row["code_bytes"]
        print(
            f"{name:<10} {row['code_bytes'] / mb:8.2f} {layers / mb:12.1f} {row['total_bytes'] / mb:9.1f} "
            f"{report['limit_bytes'] / mb:9.1f}  {'yes' if row['fits'] else 'NO'}"
        )


# deps layer -------------------------------------------------------------------------------------
def _stamp(extra: str) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{TRIM_VERSION}|{PYTHON_VERSION}|{PLATFORMS}|{extra}".encode())
    return digest.hexdigest()


def pip_install_for_lambda(target: Path, requirements: list[str]) -> None:
    """Wheels for the Lambda runtime, not this machine: pip resolves for 3.12 manylinux x86_64."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    command += ["--implementation", "cp", "--python-version", PYTHON_VERSION, "--target", str(target)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run([*command, *requirements], check=True)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(site: Path) -> dict[str, Path]:
    """Normalized distribution name -> its .dist-info folder."""
    found = {}
    for info in site.glob("*.dist-info"):
        metadata = HeaderParser().parse((info / "METADATA").open(encoding="utf-8"))
        found[_normalize(metadata["Name"])] = info
    return found


def _requires(info: Path) -> set[str]:
    metadata = HeaderParser().parse((info / "METADATA").open(encoding="utf-8"))
    names = set()
    for requirement in metadata.get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            continue
        names.add(_normalize(re.split(r"[\s;<>=!~(\[]", requirement.strip(), maxsplit=1)[0]))
    return names


def _top_level_requirements() -> set[str]:
    names = set()
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalize(re.split(r"[\s;<>=!~(\[]", line, maxsplit=1)[0]))
    return names


def removable_distributions(site: Path, roots: Iterable[str]) -> list[str]:
    """``roots`` plus every distribution that only they (transitively) required."""
    dists = _distributions(site)
    requires = {name: _requires(info) for name, info in dists.items()}
    keep_always = _top_level_requirements()
    removed = {_normalize(root) for root in roots} & set(dists)
    changed = True
    while changed:
        changed = False
        for name in dists:
            if name in removed or name in keep_always:
                continue
            requirers = {other for other, needs in requires.items() if name in needs}
            if requirers and requirers <= removed:
                removed.add(name)
                changed = True
    return sorted(removed)


def remove_distribution(site: Path, info: Path) -> None:
    """Delete the files a distribution's RECORD lists, then its metadata."""
    record = info / "RECORD"
    for line in record.read_text(encoding="utf-8").splitlines():
        relative = line.rsplit(",", 2)[0]
        path = (site / relative).resolve()
        if site.resolve() in path.parents and path.is_file():
            path.unlink()
    shutil.rmtree(info)


def _prune_empty_dirs(root: Path) -> None:
    for current, _, _ in os.walk(root, topdown=False):
        if Path(current) != root and not any(Path(current).iterdir()):
            Path(current).rmdir()


def trim(site: Path) -> dict[str, Any]:
    """Remove what the functions never load; returns what was removed, for the report."""
    before = folder_size(site)
    dists = _distributions(site)
    removed_dists = removable_distributions(site, REMOVE_DISTRIBUTIONS)
    for name in removed_dists:
        remove_distribution(site, dists[name])
    for pattern in REMOVE_PATHS:
        for path in site.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for current, dirs, files in os.walk(site):
        here = Path(current)
        for name in list(dirs):
            if name.endswith(".dist-info"):
                dirs.remove(name)
            elif name in REMOVE_DIR_NAMES:
                shutil.rmtree(here / name)
                dirs.remove(name)
        for name in files:
            if any(fnmatch.fnmatch(name, pattern) for pattern in REMOVE_FILE_PATTERNS):
                (here / name).unlink()
    for info in site.glob("*.dist-info"):
        for name in REMOVE_DIST_INFO_FILES:
            (info / name).unlink(missing_ok=True)
    _prune_empty_dirs(site)
    return {"removed_distributions": removed_dists, "bytes_before": before, "bytes_after": folder_size(site)}


def installed_versions(site: Path) -> dict[str, str]:
    versions = {}
    for info in sorted(site.glob("*.dist-info")):
        metadata = HeaderParser().parse((info / "METADATA").open(encoding="utf-8"))
        versions[metadata["Name"]] = metadata["Version"]
    return versions


def build_deps(out: Path, *, force: bool, bytecode: bool = False) -> dict[str, Any]:
    layer = out / "deps"
    site = layer / "python"
    stamp_file = out / ".deps.stamp"
    stamp = _stamp("bytecode" if bytecode else "")  # --bytecode removes sources: never reuse across modes
    if not force and site.is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        print(f"deps layer up to date ({site})")
        return json.loads((out / ".deps.json").read_text())
    if layer.exists():
        shutil.rmtree(layer)
    print(f"installing {REQUIREMENTS.name} for CPython {PYTHON_VERSION} {'/'.join(PLATFORMS)} into {site}")
    started = time.monotonic()
    pip_install_for_lambda(site, ["-r", str(REQUIREMENTS)])
    info = trim(site)
    info["distributions"] = installed_versions(site)
    info["seconds"] = round(time.monotonic() - started, 1)
    (out / ".deps.json").write_text(json.dumps(info, indent=2))
    stamp_file.write_text(stamp)
    print(
        f"deps: {info['bytes_before'] / 1e6:.1f} MB installed -> {info['bytes_after'] / 1e6:.1f} MB trimmed; "
        f"removed distributions: {', '.join(info['removed_distributions']) or 'none'}"
    )
    return info


# models layer -----------------------------------------------------------------------------------
def build_models(out: Path, model_dir: Path, variant: str) -> Path:
    """Copy one variant, the tokenizer and a manifest that lists only that variant."""
    manifest = json.loads((model_dir / "manifest.json").read_text())
    if variant not in manifest["variants"]:
        raise SystemExit(
            f"model variant {variant!r} is not built in {model_dir} (has {sorted(manifest['variants'])}); "
            f"run `make models` or choose --variant"
        )
    target = out / "models" / "models" / model_dir.name
    if target.parent.exists():
        shutil.rmtree(target.parent)
    target.mkdir(parents=True)
    entry = manifest["variants"][variant]
    for name in (manifest["tokenizer"]["file"], entry["file"]):
        shutil.copy2(model_dir / name, target / name)
    if (target / entry["file"]).stat().st_size != entry["size_bytes"]:
        raise SystemExit(f"{entry['file']} does not match its manifest size")
    manifest["variants"] = {variant: entry}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


# Python 3.12 check ------------------------------------------------------------------------------
def find_python312() -> str | None:
    """A CPython 3.12 interpreter (the Lambda runtime's version), if this machine has one."""
    candidates = [shutil.which("python3.12"), *sorted(Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            result = subprocess.run(
                [str(candidate), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
            )
            if result.returncode == 0 and result.stdout.strip() == "(3, 12)":
                return str(candidate)
    return None


CHECK_SCRIPT = r"""
import importlib, importlib.util, json, os, sys, time
paths = json.loads(sys.argv[1])
sys.path[:0] = paths["sys_path"]
report = {"python": sys.version.split()[0]}
for name in paths["imports"]:
    importlib.import_module(name)
report["imports"] = len(paths["imports"])
for name in paths["absent"]:
    if importlib.util.find_spec(name) is not None:
        raise SystemExit(f"{name} should have been trimmed from the deps layer")

def load(function):
    path = os.path.join(paths["functions"], function, "handler.py")
    spec = importlib.util.spec_from_file_location(f"{function}_handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

started = time.perf_counter()
query = load("query")
report["query_import_s"] = round(time.perf_counter() - started, 2)
vectors = query.app.state.services.embedder.embed(["a lighthouse in the fog"])
assert vectors.shape == (1, 384), vectors.shape
event = json.load(open(os.path.join(paths["events"], "function_url.json")))
event["rawPath"] = event["requestContext"]["http"]["path"] = "/health/live"
event["requestContext"]["http"]["method"] = "GET"
class Context:
    function_name = "check"; memory_limit_in_mb = 2048; aws_request_id = "check"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:check"
    def get_remaining_time_in_millis(self): return 60000
response = query.handler(event, Context())
assert response["statusCode"] == 200, response
event["rawPath"] = event["requestContext"]["http"]["path"] = "/"
page = query.handler(event, Context())
assert page["statusCode"] == 200 and "<base href=" in page["body"], page["statusCode"]
ingest = load("ingest")
report["handlers"] = ["query", "ingest"]
report["loaded_files"] = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
print(json.dumps(report))
"""


def runtime_boto3(out: Path) -> Path:
    """boto3 as the Lambda runtime provides it (not shipped in the layer), for the check only."""
    target = out / ".check-runtime"
    if not (target / "boto3").is_dir():
        pip_install_for_lambda(target, ["boto3"])
    return target


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_with_python312(out: Path, python: str, model_dir: Path, variant: str) -> dict[str, Any]:
    """Import both handlers under Python 3.12 with only the layers (and runtime boto3) on sys.path.

    The store points at a closed port: the query handler must still start (the warm-up logs and
    retries later), embed with the layer's model, and answer /health/live.
    """
    sys_path = [str(out / "deps" / "python"), str(PACKAGE_LAYER / "python"), str(runtime_boto3(out))]
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": data_dir,
            "APP_ENV": "test",
            "CHROMA_HOST": "127.0.0.1",
            "CHROMA_PORT": str(_closed_port()),
            "EMBEDDING_MODEL_DIR": str(model_dir),
            "EMBEDDING_VARIANT": variant,
            "DATA_DIR": data_dir,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "check",
            "AWS_SECRET_ACCESS_KEY": "check",
        }
        arguments = {
            "sys_path": sys_path,
            "imports": list(CHECK_IMPORTS),
            "absent": list(CHECK_ABSENT),
            "functions": str(FUNCTIONS),
            "events": str(REPO / "tests" / "events"),
        }
        # -S: no site-packages of that interpreter, -E: no PYTHON* variables: only the layers count;
        # -B: no __pycache__ written into the layers (Lambda's /opt is read-only too).
        result = subprocess.run(
            [python, "-S", "-E", "-B", "-c", CHECK_SCRIPT, json.dumps(arguments)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if result.returncode != 0:
        raise SystemExit(f"Python 3.12 check failed:\n{result.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _remove_bytecode(site: Path) -> None:
    """Start from a layer without bytecode (a previous --bytecode build, or the check's own run)."""
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)
    package_cache = site / "knowledgebeast"
    if package_cache.is_dir():
        shutil.rmtree(package_cache)


def check_package_data(package_layer: Path = PACKAGE_LAYER) -> list[str]:
    """The package data files present in the layer; exits naming any that is missing."""
    root = package_layer / "python" / "knowledgebeast"
    missing = [name for name in PACKAGE_DATA if not (root / name).is_file()]
    if missing:
        raise SystemExit(f"package layer is missing {missing} under {root}: is the checkout complete?")
    return list(PACKAGE_DATA)


# main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "layers")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--variant", default="fp32", help="model variant shipped (EMBEDDING_VARIANT must match)")
    parser.add_argument("--force", action="store_true", help="reinstall the deps layer even if up to date")
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the Python 3.12 import check")
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="ship Python 3.12 bytecode of the modules the functions load (layers/layer_bytecode.py)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    package_data = check_package_data()
    deps = build_deps(out, force=args.force, bytecode=args.bytecode)
    model = build_models(out, args.model_dir.resolve(), args.variant)
    check: dict[str, Any]
    python = find_python312() if args.check else None
    if not args.check:
        check = {"status": "skipped (--no-check)"}
    elif python is None:
        check = {"status": "skipped: no Python 3.12 interpreter on this machine; imports are unverified"}
    else:
        check = {"status": "passed", "interpreter": python, **check_with_python312(out, python, model, args.variant)}
    print(f"Python 3.12 check: {check['status']}")
    loaded = check.pop("loaded_files", [])
    bytecode: dict[str, Any] = {"shipped": False}
    _remove_bytecode(out / "deps" / "python")
    if args.bytecode and python is None:
        print("bytecode skipped: it needs the Python 3.12 check (a 3.12 interpreter, no --no-check)")
        bytecode = {"shipped": False, "skipped": "no Python 3.12 check"}
    elif args.bytecode:
        from layer_bytecode import compile_layers

        bytecode = {
            "shipped": True,
            **compile_layers(python, out / "deps" / "python", PACKAGE_LAYER / "python", loaded),
        }
        print(f"bytecode: {bytecode}")
        # the same check again, on the sourceless layer: proves nothing needed the removed sources
        again = check_with_python312(out, python, model, args.variant)
        check["after_bytecode"] = {k: v for k, v in again.items() if k != "loaded_files"}

    functions = sorted(path for path in FUNCTIONS.iterdir() if (path / "handler.py").is_file())
    layers = {"deps": out / "deps", "models": out / "models", "package": PACKAGE_LAYER}
    report = size_report(layers, functions, shipped_bytecode=["deps"] if bytecode["shipped"] else [])
    report.update(
        model_variant=args.variant,
        python_version=PYTHON_VERSION,
        platforms=list(PLATFORMS),
        deps_trim={k: deps[k] for k in ("removed_distributions", "bytes_before", "bytes_after")},
        deps_distributions=deps["distributions"],
        python312_check=check,
        bytecode=bytecode,
        package_data=package_data,
    )
    (out / "sizes.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nwrote {out / 'sizes.json'}")
    over = [name for name, row in report["functions"].items() if not row["fits"]]
    if over:
        print(f"OVER the Lambda limit: {', '.join(over)} (see layers/README.md: container image)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
