"""Chunkers against the real embedding tokenizer: exact offsets, token budget, structure kept."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from knowledgebeast.chunking import ChunkingConfig, make_chunker
from knowledgebeast.errors import ValidationError
from knowledgebeast.parsing.base import ParsedDocument, Section

STRATEGIES = ["semantic", "recursive", "fixed"]


@pytest.fixture(scope="module")
def counter(model_dir: Path) -> Any:
    from knowledgebeast.embedding.tokenizer import WordPieceTokenCounter

    return WordPieceTokenCounter(model_dir / "tokenizer.json")


def _document(sections: list[tuple[str, int | None, tuple[str, ...]]]) -> ParsedDocument:
    text = ""
    built = []
    for body, page, heading in sections:
        if text:
            text += "\n\n"
        built.append(Section(text=body, offset=len(text), page=page, heading_path=heading))
        text += body
    return ParsedDocument(text=text, sections=tuple(built), title="Doc", media_type="text/plain", metadata={})


PROSE = " ".join(
    f"Sentence number {i} explains how the knowledge base indexes document {i} for retrieval." for i in range(60)
)
LONG_SENTENCE = " ".join(f"word{i}" for i in range(700)) + "."


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_offsets_are_exact_and_budget_respected(strategy: str, counter: Any) -> None:
    doc = _document([(PROSE, 1, ("Intro",)), (LONG_SENTENCE, 2, ("Intro", "Details"))])
    config = ChunkingConfig(size=512, overlap=50, max_size=2048, max_tokens=224)
    chunks = make_chunker(strategy, config, counter).chunk(doc)
    assert len(chunks) > 3
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert counter.count(chunk.text) <= 224, (strategy, counter.count(chunk.text))
    covered = " ".join(c.text for c in chunks)
    for word in set(re.findall(r"\w+", doc.text)):
        assert word in covered


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sections_are_boundaries_with_page_and_heading(strategy: str, counter: Any) -> None:
    doc = _document([("Alpha page text. " * 5, 1, ("A",)), ("Beta page text. " * 5, 2, ("A", "B"))])
    chunks = make_chunker(strategy, ChunkingConfig(), counter).chunk(doc)
    assert {c.page for c in chunks} == {1, 2}
    for chunk in chunks:
        assert ("Alpha" in chunk.text) != ("Beta" in chunk.text)
        assert chunk.heading_path == (("A",) if chunk.page == 1 else ("A", "B"))


def test_semantic_never_cuts_a_sentence_that_fits(counter: Any) -> None:
    doc = _document([(PROSE, None, ())])
    chunks = make_chunker("semantic", ChunkingConfig(size=400, overlap=80), counter).chunk(doc)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.startswith("Sentence number"), chunk.text[:40]
        assert chunk.text.endswith("retrieval."), chunk.text[-40:]


def test_overlap_repeats_trailing_text(counter: Any) -> None:
    doc = _document([(PROSE, None, ())])
    chunks = make_chunker("recursive", ChunkingConfig(size=300, overlap=100), counter).chunk(doc)
    overlapping = sum(1 for a, b in pairwise(chunks) if b.start < a.end)
    assert overlapping >= len(chunks) // 2
    no_overlap = make_chunker("recursive", ChunkingConfig(size=300, overlap=0), counter).chunk(doc)
    assert all(b.start >= a.end for a, b in pairwise(no_overlap))


def test_size_bounds_chunk_characters(counter: Any) -> None:
    doc = _document([(PROSE, None, ())])
    for strategy in ("fixed", "recursive"):
        chunks = make_chunker(strategy, ChunkingConfig(size=200, overlap=20), counter).chunk(doc)
        assert max(len(c.text) for c in chunks) <= 200


def test_unknown_strategy_is_a_validation_error(counter: Any) -> None:
    with pytest.raises(ValidationError):
        make_chunker("magic", ChunkingConfig(), counter)


def test_semantic_keeps_a_heading_with_its_text(counter: Any) -> None:
    body = "## Rate limiting\n\n" + "Each client may send one hundred requests per minute before a 429. " * 9
    doc = _document([(body, None, ("Guide", "Rate limiting"))])
    chunks = make_chunker("semantic", ChunkingConfig(size=512, overlap=50), counter).chunk(doc)
    assert chunks[0].text.startswith("## Rate limiting\n\nEach client")
    assert all(chunk.text.strip() != "## Rate limiting" for chunk in chunks)
