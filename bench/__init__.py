"""Benchmarks of KnowledgeBeast: retrieval quality, latency, cold start, ingest throughput, scale."""
