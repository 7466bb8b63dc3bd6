"""The fast in-pool BM25 (counts on the stored term strings) against the reference implementation."""

from __future__ import annotations

import random

import pytest

from knowledgebeast.lexical import analyze, bm25_pool_scores, bm25_scores, terms_present

WORDS = "tide moon gravity coast bulge ship lamp keeper storm harbour wave wind salt".split()


@pytest.mark.parametrize("seed", range(5))
def test_pool_scores_equal_the_reference_on_random_pools(seed: int) -> None:
    rng = random.Random(seed)
    pool = [[rng.choice(WORDS) for _ in range(rng.randint(0, 40))] for _ in range(60)]
    query = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))] + ["absent"]
    expected = bm25_scores(query, pool)
    got = bm25_pool_scores(query, [" ".join(doc) for doc in pool])
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert terms_present(query, [" ".join(doc) for doc in pool]) == {t for t in query if any(t in d for d in pool)}


def test_repeated_neighbours_and_prefixes_are_counted_exactly() -> None:
    """``tide tide`` holds two tides; ``tides`` holds none (terms are whole words)."""
    docs = ["tide tide", "tides", "tide", ""]
    expected = bm25_scores(["tide"], [d.split() for d in docs])
    assert bm25_pool_scores(["tide"], docs) == pytest.approx(expected)
    assert bm25_pool_scores(["tide"], docs)[0] > bm25_pool_scores(["tide"], docs)[2] > 0
    assert bm25_pool_scores(["tide"], docs)[1] == 0.0
    assert terms_present(["tid", "tide"], ["tides"]) == set()


def test_real_analysed_text() -> None:
    chunks = [
        "The moon's gravity raises two tidal bulges, so most coasts see two high tides a day.",
        "The keeper lights the lamp at dusk.",
    ]
    strings = [" ".join(analyze(c)) for c in chunks]
    query = analyze("why are there two high tides")
    assert bm25_pool_scores(query, strings) == pytest.approx(bm25_scores(query, [s.split() for s in strings]))
