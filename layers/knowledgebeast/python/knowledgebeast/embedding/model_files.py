"""Reading a built model folder through its ``manifest.json``.

The folder is produced by ``layers/models/build_model.py`` (``make models``) or shipped in the
Lambda layer at ``/opt/models``. The manifest, not file-name guessing, says which variants exist,
so a layer that carries only the int8 model fails with a clear message when fp32 is asked for.
Everything here raises :class:`~knowledgebeast.errors.ConfigurationError`: a missing or broken
model is a deployment mistake, not a request error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledgebeast.errors import ConfigurationError

MANIFEST_NAME = "manifest.json"
SUPPORTED_SCHEMA_VERSION = 1
BUILD_HINT = "run `make models` (.venv-build/bin/python layers/models/build_model.py --out <model dir>)"


@dataclass(frozen=True)
class VariantFile:
    """One ONNX file of the model (``fp32`` or ``int8``) as recorded at build time."""

    file: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class ModelManifest:
    """The parts of ``manifest.json`` the runtime relies on."""

    model_dir: Path
    model_id: str
    dimension: int
    max_tokens: int
    max_position_embeddings: int
    tokenizer_file: str
    variants: dict[str, VariantFile]

    @property
    def tokenizer_path(self) -> Path:
        return self.model_dir / self.tokenizer_file

    def model_path(self, variant: str) -> Path:
        """Path of ``variant``'s ONNX file, checked to exist with the recorded size.

        The size check is cheap and catches truncated copies; a full sha256 check is left to the
        build and packaging steps because hashing 90 MB would add to every cold start.
        """
        entry = self.variants.get(variant)
        if entry is None:
            raise ConfigurationError(
                f"embedding model variant {variant!r} is not in {self.model_dir}; built variants: "
                f"{sorted(self.variants)}. Choose one of those or {BUILD_HINT} with --variants {variant}",
                details={"model_dir": str(self.model_dir), "variant": variant},
            )
        path = self.model_dir / entry.file
        if not path.is_file() or path.stat().st_size != entry.size_bytes:
            raise ConfigurationError(
                f"embedding model file {path} is missing or does not match its manifest; {BUILD_HINT}",
                details={"model_dir": str(self.model_dir), "variant": variant},
            )
        return path


def load_manifest(model_dir: Path) -> ModelManifest:
    """Read and validate ``model_dir/manifest.json``."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ConfigurationError(
            f"no embedding model at {model_dir} ({MANIFEST_NAME} not found); {BUILD_HINT}",
            details={"model_dir": str(model_dir)},
        )
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("schema_version") != SUPPORTED_SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {raw.get('schema_version')!r}")
        manifest = ModelManifest(
            model_dir=Path(model_dir),
            model_id=str(raw["model_id"]),
            dimension=int(raw["dimension"]),
            max_tokens=int(raw["max_tokens"]),
            max_position_embeddings=int(raw["max_position_embeddings"]),
            tokenizer_file=str(raw["tokenizer"]["file"]),
            variants={
                name: VariantFile(str(v["file"]), str(v["sha256"]), int(v["size_bytes"]))
                for name, v in raw["variants"].items()
            },
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"embedding model manifest {path} is unreadable ({exc}); {BUILD_HINT}",
            details={"model_dir": str(model_dir)},
        ) from exc
    if not manifest.tokenizer_path.is_file():
        raise ConfigurationError(
            f"tokenizer {manifest.tokenizer_path} is missing; {BUILD_HINT}",
            details={"model_dir": str(model_dir)},
        )
    return manifest
