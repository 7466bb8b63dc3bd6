"""`knowledgebeast models export SOURCE_DIR --kind reranker`: a user's cross-encoder, exported by optimum.

The source is a small randomly initialised BERT cross-encoder written by transformers in the
build environment (no hub access; no PyPI package ships an MS MARCO cross-encoder), with the
MiniLM tokenizer. The exported ONNX model, loaded by the runtime's CrossEncoderReranker, must
score query/passage pairs exactly as the torch model does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledgebeast.rerank.cross_encoder import CrossEncoderReranker

REPO = Path(__file__).resolve().parents[2]
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
CLI = [sys.executable, "-m", "knowledgebeast.cli", "models", "export"]
QUERY = "how are database credentials rotated"
PASSAGES = [
    "Rotate the alpha database credentials every quarter.",
    "The office cat sleeps on the warm server rack.",
    "Backups run hourly and are kept for seven days.",
]

pytestmark = pytest.mark.slow

MAKE_SOURCE = """
import sys, torch
from transformers import BertConfig, BertForSequenceClassification
torch.manual_seed(0)
config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, num_labels=1)
BertForSequenceClassification(config).eval().save_pretrained(sys.argv[1])
"""

TORCH_SCORES = """
import json, sys, torch
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification
source, query, passages = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tokenizer = Tokenizer.from_file(source + "/tokenizer.json")
tokenizer.enable_truncation(512)
model = BertForSequenceClassification.from_pretrained(source).eval()
scores = []
with torch.no_grad():
    for passage in passages:
        e = tokenizer.encode(query, passage)
        feed = {k: torch.tensor([v]) for k, v in
                (("input_ids", e.ids), ("attention_mask", e.attention_mask), ("token_type_ids", e.type_ids))}
        scores.append(float(model(**feed).logits[0, 0]))
print(json.dumps(scores))
"""


@pytest.fixture(scope="module")
def cross_encoder_source(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    source = tmp_path_factory.mktemp("tiny-cross-encoder")
    subprocess.run([str(BUILD_PYTHON), "-c", MAKE_SOURCE, str(source)], check=True, timeout=600)
    shutil.copy(model_dir / "tokenizer.json", source / "tokenizer.json")
    return source


def test_exported_cross_encoder_scores_like_the_torch_model(cross_encoder_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "reranker"
    done = subprocess.run(
        [*CLI, str(cross_encoder_source), "--kind", "reranker", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["kind"], manifest["output"]) == ("reranker", "logits")
    assert set(manifest["variants"]) == {"fp32", "int8"}

    expected = json.loads(
        subprocess.run(
            [str(BUILD_PYTHON), "-c", TORCH_SCORES, str(cross_encoder_source), QUERY, json.dumps(PASSAGES)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
    )
    scores = CrossEncoderReranker(out).score(QUERY, PASSAGES)
    assert scores == pytest.approx(expected, abs=1e-4)
    assert len(set(expected)) == len(PASSAGES)  # distinct scores: the comparison can tell passages apart


def test_a_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, str(tmp_path), "--kind", "embedder"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "not a Hugging Face model folder" in done.stderr
