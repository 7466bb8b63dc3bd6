"""``knowledgebeast models export SOURCE_DIR --kind embedder|reranker``: a user's model as ONNX.

The export needs torch, which the runtime never installs: it runs ``layers/models/build_model.py``
(optimum's exporter and ORT quantizer) with the build-only interpreter of the checkout,
``.venv-build`` (``make models`` creates it). The result is a folder the runtime loads as it is:
``EMBEDDING_MODEL_DIR`` for an embedder, ``RERANK_MODEL_DIR`` for a cross-encoder.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from knowledgebeast.config import _REPO_ROOT
from knowledgebeast.errors import ConfigurationError

RECIPE = _REPO_ROOT / "layers" / "models" / "build_model.py"
BUILD_PYTHON = _REPO_ROOT / ".venv-build" / "bin" / "python"


def export_command(args: argparse.Namespace) -> list[str]:
    """The recipe's command line for these arguments (the build interpreter checked to exist)."""
    python = Path(args.build_python)
    if not python.is_file() or not RECIPE.is_file():
        raise ConfigurationError(
            f"the model export needs the build environment ({python}) and the recipe ({RECIPE}) of a "
            "KnowledgeBeast checkout: run `make models` there first (it creates .venv-build)"
        )
    source = Path(args.source).resolve()
    if not (source / "config.json").is_file():
        raise ConfigurationError(f"{source} is not a Hugging Face model folder (no config.json)")
    out = Path(args.out) if args.out else _REPO_ROOT / "build" / "models" / source.name
    command = [str(python), str(RECIPE), "--source", str(source), "--kind", args.kind, "--out", str(out)]
    command += ["--variants", args.variants] + (["--force"] if args.force else [])
    return command


def cmd_models_export(args: argparse.Namespace, services: Any) -> int:
    return subprocess.run(export_command(args), check=False).returncode


def add_models_commands(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="export models to ONNX")
    actions = models.add_subparsers(dest="models_command", required=True)
    export = actions.add_parser("export", help="export a sentence-transformers embedder or a cross-encoder folder")
    export.add_argument(
        "source", metavar="SOURCE_DIR", help="Hugging Face model folder (config.json, weights, tokenizer)"
    )
    export.add_argument("--kind", choices=["embedder", "reranker"], required=True)
    export.add_argument("--out", help="output folder (default: build/models/<SOURCE_DIR name>)")
    export.add_argument("--variants", default="fp32,int8", help="comma-separated subset of fp32,int8")
    export.add_argument("--force", action="store_true", help="export even if the output is up to date")
    export.add_argument("--build-python", default=str(BUILD_PYTHON), help=argparse.SUPPRESS)
    export.set_defaults(func=cmd_models_export)
