"""KnowledgeBeast: retrieval over a company's documents, one package for Lambda, CLI and server."""

__version__ = "0.1.0"
