"""Term analysis runs on PyStemmer's C stemmer and yields exactly the pure-Python Snowball stems.

Stems are written into every chunk (``kb_terms``) at ingest and recomputed for every query, so a
stemmer swap that changed a single stem would silently split old and new chunks' vocabularies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import Stemmer

from knowledgebeast import lexical

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.common import load_corpus  # noqa: E402
from bench.term_analysis import measure  # noqa: E402

MINI_SCIFACT = REPO / "tests" / "fixtures" / "scifact-mini" / "corpus.jsonl.gz"
#: Words whose Snowball stems are easy to get wrong (exceptions, -ly/-ing/-ies, apostrophes).
TRICKY = "generously running skies dying news proceed exceeded cement's knightly communism generates arsenal"


def test_runtime_analysis_uses_pystemmer() -> None:
    lexical._stemmer.cache_clear()
    assert isinstance(lexical._stemmer(), Stemmer.Stemmer)
    assert lexical.analyze("The caches were running") == ["cach", "run"]


def test_pystemmer_and_pure_python_give_identical_stems_on_a_corpus_sample() -> None:
    texts = [f"{doc.title}\n{doc.text}" for doc in load_corpus(MINI_SCIFACT)]
    texts += [TRICKY, *(path.read_text(errors="ignore") for path in (REPO / "examples" / "docs").glob("*.md"))]
    results = measure(texts, repeats=1)
    assert results["pure_python"]["terms"] > 3000
    assert results["documents_differing"] == 0
    assert results["identical_stems"] is True
