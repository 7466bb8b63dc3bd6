"""One-at-a-time scans of query-time settings over one cached index (see bench/retrieval.py).

Why a separate entry point: a scan re-runs the same queries many times; here the index is opened
once and each query is embedded once (the memo in :mod:`bench.retrieval`), so a value of
``candidate_depth`` or of the fusion weights costs only the store searches, BM25 and fusion of
the product's query path. Ingest-time settings (chunking, model variant) are one index each:
pass them with ``--set`` and run once per value.

    python -m bench.tune --corpus C --queries Q --qrels R --set chunk_size=1000 \
        --vary candidate_depth=100,200,300,500 --vary fusion_rrf_k=10,30,60 \
        --config fusion_method=blend,fusion_lexical_weight=1.0 --json OUT
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, load_qrels, load_queries, parse_overrides, print_table, write_json
from bench.retrieval import METRIC_KEYS, MODES, build_index, evaluate, select_queries


def parse_vary(items: Sequence[str]) -> list[dict[str, str]]:
    """``KEY=V1,V2`` -> one override dict per value (one setting varied at a time)."""
    configs = []
    for item in items:
        key, _, values = item.partition("=")
        configs.extend({key.strip().lower(): value.strip()} for value in values.split(",") if value.strip())
    return configs


def parse_config(item: str) -> dict[str, str]:
    """``K1=V1,K2=V2`` -> one override dict (settings changed together)."""
    return parse_overrides([part for part in item.split(",") if part.strip()])


def global_bm25(index: Any) -> Any:
    """DIAGNOSTIC, not the product path: BM25 whose document frequencies and average length come
    from the whole collection instead of the dense candidate pool. Used to measure how much the
    in-pool statistics cost (docs/benchmarks.md); the pool, fusion and grouping stay the product's."""
    import math
    from collections import Counter

    from bench.retrieval import COLLECTION

    collection = index.services.store._client.get_collection(COLLECTION, embedding_function=None)
    df: Counter[str] = Counter()
    total, length_sum, offset = 0, 0, 0
    while True:
        page = collection.get(include=["metadatas"], limit=5000, offset=offset)
        if not page["ids"]:
            break
        for meta in page["metadatas"] or []:
            terms = str(meta.get("kb_terms", "")).split()
            df.update(set(terms))
            total += 1
            length_sum += len(terms)
        offset += len(page["ids"])
    average = length_sum / max(total, 1)

    def scores(
        query_terms: Sequence[str], documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
    ) -> list[float]:
        weights = Counter(query_terms)
        out = []
        for doc in documents:
            counts = Counter(t for t in doc if t in weights)
            norm = k1 * (1.0 - b + b * len(doc) / average)
            out.append(
                sum(
                    weights[t] * math.log(1.0 + (total - df[t] + 0.5) / (df[t] + 0.5)) * f * (k1 + 1.0) / (f + norm)
                    for t, f in counts.items()
                )
            )
        return out

    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--qrels", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2")
    parser.add_argument("--config", action="append", default=[], metavar="K1=V1,K2=V2")
    parser.add_argument("--modes", default="hybrid", help="comma-separated subset of dense,lexical,hybrid")
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--index-root", type=Path, default=BENCH_DIR)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--global-idf", action="store_true", help="diagnostic: also run with collection-wide BM25 stats"
    )
    args = parser.parse_args(argv)

    base = parse_overrides(args.overrides)
    index = build_index(args.corpus, base, root=args.index_root)
    qrels = load_qrels(args.qrels)
    queries = select_queries(load_queries(args.queries), qrels, args.limit_queries)
    modes = [m for m in args.modes.split(",") if m in MODES]
    configs: list[dict[str, Any]] = [{}, *parse_vary(args.vary), *(parse_config(c) for c in args.config)]

    rows: list[dict[str, Any]] = []
    for config in configs:
        label = ",".join(f"{k}={v}" for k, v in config.items()) or "base"
        results = evaluate(index, queries, qrels, modes, query_overrides=config)
        for mode in modes:
            rows.append({"config": label, "mode": mode, **{k: results[mode][k] for k in METRIC_KEYS}})
        print(f"  {label}: " + " ".join(f"{m}={results[m]['ndcg@10']:.4f}" for m in modes), file=sys.stderr)
    if args.global_idf:
        import knowledgebeast.query as query_module

        in_pool = query_module.bm25_pool_scores
        global_scores = global_bm25(index)
        query_module.bm25_pool_scores = lambda terms, strings: global_scores(terms, [t.split() for t in strings])  # type: ignore[assignment]
        try:
            for config in configs:
                label = "GLOBAL-IDF " + (",".join(f"{k}={v}" for k, v in config.items()) or "base")
                results = evaluate(index, queries, qrels, [m for m in modes if m != "dense"], query_overrides=config)
                for mode, metrics in results.items():
                    rows.append({"config": label, "mode": mode, **{k: metrics[k] for k in METRIC_KEYS}})
                print(f"  {label}: " + " ".join(f"{m}={r['ndcg@10']:.4f}" for m, r in results.items()), file=sys.stderr)
        finally:
            query_module.bm25_pool_scores = in_pool  # type: ignore[assignment]
    print_table(rows, ["config", "mode", *METRIC_KEYS])
    write_json(args.json, {"base": base, "index": str(index.path), "chunks": index.info.get("chunks"), "rows": rows})
    best = max((r for r in rows if not str(r["config"]).startswith("GLOBAL")), key=lambda r: r["ndcg@10"])
    print(f"nDCG@10={best['ndcg@10']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
