"""Reranking stage: pluggable; the shipped implementation runs a user-supplied ONNX cross-encoder."""

from knowledgebeast.rerank.base import RerankerProtocol

__all__ = ["RerankerProtocol"]
