"""Text embedding: the protocols, and the ONNX implementation used in every deployment.

Importing this package is cheap: onnxruntime and tokenizers load only when an
:class:`OnnxEmbedder` or :class:`WordPieceTokenCounter` is created.
"""

from knowledgebeast.embedding.base import EmbedderProtocol, TokenCounterProtocol
from knowledgebeast.embedding.model_files import ModelManifest, load_manifest
from knowledgebeast.embedding.onnx_embedder import OnnxEmbedder
from knowledgebeast.embedding.tokenizer import WordPieceTokenCounter

__all__ = [
    "EmbedderProtocol",
    "ModelManifest",
    "OnnxEmbedder",
    "TokenCounterProtocol",
    "WordPieceTokenCounter",
    "load_manifest",
]
