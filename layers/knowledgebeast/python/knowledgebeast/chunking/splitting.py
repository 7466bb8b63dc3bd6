"""Boundary finding and size-bounded packing shared by the strategies.

Every function works on ``[start, end)`` character ranges of one text so offsets stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledgebeast.embedding.base import TokenCounterProtocol


Range = tuple[int, int]

_PARAGRAPH = re.compile(r"\n\s*\n")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"\s+")


def split_on(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[Range]:
    """Split ``text[start:end]`` after each match; the separator stays with the left piece."""
    pieces: list[Range] = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor:
            pieces.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def paragraphs(text: str, start: int, end: int) -> list[Range]:
    return split_on(_PARAGRAPH, text, start, end)


def lines(text: str, start: int, end: int) -> list[Range]:
    return split_on(_LINE, text, start, end)


def sentences(text: str, start: int, end: int) -> list[Range]:
    return split_on(_SENTENCE, text, start, end)


def words(text: str, start: int, end: int) -> list[Range]:
    return split_on(_WORD, text, start, end)


class SizeGuard:
    """Decides whether a range fits: at most ``max_chars`` characters and ``max_tokens`` tokens."""

    def __init__(self, text: str, counter: TokenCounterProtocol, *, max_chars: int, max_tokens: int) -> None:
        self.text = text
        self.counter = counter
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def tokens(self, start: int, end: int) -> int:
        return self.counter.count(self.text[start:end])

    def fits(self, start: int, end: int) -> bool:
        if end - start > self.max_chars:
            return False
        # Wordpieces are never fewer than ~1 per 12 chars of prose; skip the tokenizer when clearly small.
        if (end - start) // 12 > self.max_tokens:
            return False
        return self.tokens(start, end) <= self.max_tokens


def hard_split(guard: SizeGuard, start: int, end: int) -> list[Range]:
    """Last resort for a range with no usable boundary: bisect until each piece fits."""
    if guard.fits(start, end) or end - start <= 1:
        return [(start, end)]
    middle = (start + end) // 2
    return hard_split(guard, start, middle) + hard_split(guard, middle, end)


def split_to_fit(
    guard: SizeGuard, start: int, end: int, splitters: list[Callable[[str, int, int], list[Range]]]
) -> list[Range]:
    """Recursively split a range with ever finer splitters until every piece fits the guard."""
    if guard.fits(start, end):
        return [(start, end)]
    if not splitters:
        return hard_split(guard, start, end)
    first, rest = splitters[0], splitters[1:]
    pieces = first(guard.text, start, end)
    if len(pieces) <= 1:
        return split_to_fit(guard, start, end, rest)
    out: list[Range] = []
    for piece_start, piece_end in pieces:
        out.extend(split_to_fit(guard, piece_start, piece_end, rest))
    return out


def pack(guard: SizeGuard, pieces: list[Range], *, target_chars: int, overlap_chars: int) -> Iterator[Range]:
    """Greedily merge consecutive pieces up to ``target_chars`` (and the guard), with overlap.

    The overlap re-uses whole trailing pieces of the previous chunk (up to ``overlap_chars``) so an
    overlap never starts mid-word or mid-sentence.
    """
    index = 0
    while index < len(pieces):
        first = index
        chunk_start, chunk_end = pieces[index]
        index += 1
        while index < len(pieces):
            candidate_end = pieces[index][1]
            if candidate_end - chunk_start > target_chars or not guard.fits(chunk_start, candidate_end):
                break
            chunk_end = candidate_end
            index += 1
        yield chunk_start, chunk_end
        if index >= len(pieces) or overlap_chars <= 0:
            continue
        back = index
        while back - 1 > first and chunk_end - pieces[back - 1][0] <= overlap_chars:
            back -= 1
        if back < index and guard.fits(pieces[back][0], pieces[index][1]):
            index = back
