"""Counting text in the embedding model's word pieces.

Chunk limits are about what the encoder sees (256 word pieces for all-MiniLM-L6-v2), and a
character or whitespace count can be off by 2x on code, numbers or non-English text. This counter
uses the model's own ``tokenizer.json`` with truncation and padding off, so counts are exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer


def load_tokenizer(path: Path) -> Tokenizer:
    """Load ``tokenizer.json`` with the shipped truncation/padding switched off.

    The file shipped with all-MiniLM-L6-v2 truncates and pads to a fixed 128 tokens, which would
    both cap counts and (for embedding) silently cut text that sentence-transformers keeps.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class WordPieceTokenCounter:
    """:class:`~knowledgebeast.embedding.base.TokenCounterProtocol` over a ``tokenizer.json``."""

    def __init__(self, tokenizer_path: Path) -> None:
        self._tokenizer = load_tokenizer(tokenizer_path)

    def _encode(self, text: str) -> Encoding:
        return self._tokenizer.encode(text, add_special_tokens=False)

    def count(self, text: str) -> int:
        """Word pieces in ``text``, excluding ``[CLS]``/``[SEP]``."""
        return len(self._encode(text).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span in ``text`` of each counted word piece."""
        return [(int(start), int(end)) for start, end in self._encode(text).offsets]
