"""Term analysis (tokenise, stop words, Snowball stem) with PyStemmer vs the pure-Python stemmer.

``snowballstemmer`` hands out PyStemmer's C stemmers when ``Stemmer`` is importable (it is a
runtime dependency); this bench answers "how much faster, and are the stems the same": it runs
:func:`knowledgebeast.lexical.analyze` over a corpus sample with each stemmer, its word cache
cleared before every run (ingest of new documents mostly meets new words), checks that every
stem is identical and reports words/s. Timings are the best of ``--repeats`` runs.

    python -m bench.term_analysis [--corpus C] [--docs 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import SCIFACT_DIR, load_corpus


def stemmers() -> dict[str, Any]:
    """The two implementations of the same Snowball English algorithm."""
    import Stemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    return {"pure_python": EnglishStemmer(), "pystemmer": Stemmer.Stemmer("english")}


def analyze_with(stemmer: Any) -> Callable[[str], list[str]]:
    """``lexical.analyze`` (same tokens, stop words and per-word cache) with ``stemmer`` plugged in."""
    from functools import lru_cache

    from knowledgebeast.lexical import _TOKEN, STOPWORDS

    @lru_cache(maxsize=200_000)
    def stem(word: str) -> str:
        return str(stemmer.stemWord(word))

    def analyze(text: str) -> list[str]:
        return [stem(token) for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]

    analyze.cache_clear = stem.cache_clear  # type: ignore[attr-defined]
    return analyze


def measure(texts: list[str], repeats: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    outputs: dict[str, list[list[str]]] = {}
    for name, stemmer in stemmers().items():
        analyze = analyze_with(stemmer)
        runs = []
        for _ in range(repeats):
            analyze.cache_clear()  # type: ignore[attr-defined]
            started = time.perf_counter()
            outputs[name] = [analyze(text) for text in texts]
            runs.append(time.perf_counter() - started)
        words = sum(len(terms) for terms in outputs[name])
        results[name] = {"seconds": round(min(runs), 4), "terms": words, "terms_per_s": round(words / min(runs))}
    reference, fast = outputs["pure_python"], outputs["pystemmer"]
    differing = sum(1 for a, b in zip(reference, fast, strict=True) if a != b)
    results["identical_stems"] = differing == 0
    results["documents_differing"] = differing
    results["speedup"] = round(results["pure_python"]["seconds"] / results["pystemmer"]["seconds"], 2)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=SCIFACT_DIR / "corpus.jsonl.gz")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    texts = [f"{doc.title}\n{doc.text}" for doc in load_corpus(args.corpus)[: args.docs]]
    results = measure(texts, args.repeats)
    results.update(documents=len(texts), load_average=os.getloadavg()[0])
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if not results["identical_stems"]:
        print(f"error: {results['documents_differing']} documents analysed differently")
        return 1
    print(f"speedup={results['speedup']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
