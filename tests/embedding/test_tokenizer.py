"""WordPieceTokenCounter: counts and spans in the embedder's own word pieces."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from knowledgebeast.embedding import TokenCounterProtocol, WordPieceTokenCounter

SAMPLES = [
    "Hello world",
    "The tokenizer's offsets (start, end) map back to characters: 3.14159!",
    "unbelievably antidisestablishmentarianism",
    "Café naïve résumé — Zürich, Kraków; 東京タワー and emoji 🚀🔥.",
    "  spaced\tout\ntext  ",
]


@pytest.fixture(scope="module")
def counter(built_model_dir: Path) -> WordPieceTokenCounter:
    return WordPieceTokenCounter(built_model_dir / "tokenizer.json")


def test_satisfies_protocol(counter: WordPieceTokenCounter) -> None:
    assert isinstance(counter, TokenCounterProtocol)


def test_counts_exclude_specials(counter: WordPieceTokenCounter) -> None:
    assert counter.count("") == 0
    assert counter.count("Hello world") == 2
    assert counter.count("unbelievably") > 1  # split into word pieces


def test_counts_are_not_truncated_or_padded(counter: WordPieceTokenCounter) -> None:
    """The shipped tokenizer.json truncates and pads to 128; counting must do neither."""
    assert counter.count("word " * 1000) == 1000
    assert counter.count("one") == 1


@pytest.mark.parametrize("text", SAMPLES)
def test_offsets_are_consistent_with_text(counter: WordPieceTokenCounter, text: str) -> None:
    spans = counter.offsets(text)
    assert len(spans) == counter.count(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[start:end].strip() == text[start:end]
        previous_end = end
    # word pieces tile every non-whitespace character exactly once
    assert "".join(text[start:end] for start, end in spans) == "".join(text.split())


def test_word_piece_spans_split_words(counter: WordPieceTokenCounter) -> None:
    text = "unbelievably"
    spans = counter.offsets(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
