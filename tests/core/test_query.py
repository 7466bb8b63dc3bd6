"""Query service: modes, filters, grouping, citations, cache correctness, reranking contract."""

from __future__ import annotations

from typing import Any

import pytest

from knowledgebeast.cache.memory import MemoryCache
from knowledgebeast.errors import BadRequestError, CollectionNotFoundError, InvalidFilterError
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.schemas import QueryRequest

CORPUS = {
    "deploy.md": "# Deploying\n\nTo deploy KnowledgeBeast to AWS run cdk deploy after bootstrapping the account.",
    "cache.md": "# Caching\n\nQuery results are cached in Redis with a TTL so repeated questions answer quickly.",
    "errors.md": "# Error catalogue\n\nThe ingest worker reports failure ZX-4471 when a PDF is encrypted.",
    "pets.md": "# Office pets\n\nThe office cat sleeps on the warm server rack most afternoons.",
    "backup.md": "# Backups\n\nBackups run hourly and are kept for seven days; daily backups for thirty days.",
}


@pytest.fixture
def indexed(http_store: Any, embedder: Any, collection_name: str) -> tuple[IngestService, str]:
    ingest = IngestService(http_store, embedder, embedder.token_counter)
    for name, text in CORPUS.items():
        team = "ops" if name in ("backup.md", "errors.md") else "dev"
        ingest.ingest_bytes(text.encode(), collection=collection_name, source=name, metadata={"team": team})
    return ingest, collection_name


def _query(service: QueryService, collection: str, text: str, **kw: Any) -> Any:
    return service.query(QueryRequest(query=text, collection=collection, **kw))


def test_dense_finds_paraphrase_with_citation(indexed: Any, embedder: Any) -> None:
    ingest, collection = indexed
    service = QueryService(ingest.store, embedder)
    response = _query(service, collection, "How do I ship the system to Amazon Web Services?", mode="dense", top_k=2)
    top = response.results[0]
    assert top.citation.source == "deploy.md" and top.citation.title == "Deploying"
    assert top.citation.heading_path == ["Deploying"] or top.citation.heading_path == []
    assert CORPUS["deploy.md"][top.citation.start : top.citation.end] == top.text


def test_lexical_signal_wins_the_exact_identifier(indexed: Any, embedder: Any) -> None:
    """A rare code is a lexical match; hybrid must put it first even where dense does not."""
    ingest, collection = indexed
    service = QueryService(ingest.store, embedder)
    hybrid = _query(service, collection, "ZX-4471", top_k=5)
    lexical = _query(service, collection, "ZX-4471", mode="lexical", top_k=5)
    assert hybrid.results[0].citation.source == "errors.md"
    assert lexical.results[0].citation.source == "errors.md"
    assert lexical.results[0].lexical_score > 0 and all(r.lexical_score == 0 for r in lexical.results[1:])


def test_filters_restrict_results(indexed: Any, embedder: Any) -> None:
    ingest, collection = indexed
    service = QueryService(ingest.store, embedder)
    response = _query(service, collection, "deploy to AWS", filters={"team": "ops"}, top_k=5)
    assert response.results and {r.metadata["team"] for r in response.results} == {"ops"}
    response = _query(service, collection, "deploy", filters={"source": {"$in": ["pets.md", "cache.md"]}})
    assert {r.citation.source for r in response.results} <= {"pets.md", "cache.md"}
    with pytest.raises(InvalidFilterError):
        _query(service, collection, "deploy", filters={"team": {"$regex": "o.*"}})


def test_group_by_document_collapses_chunks(http_store: Any, embedder: Any, collection_name: str) -> None:
    ingest = IngestService(http_store, embedder, embedder.token_counter)
    long_doc = "\n\n".join(f"Paragraph {i} is about deploying with cdk and AWS stacks. " * 6 for i in range(8))
    ingest.ingest_bytes(long_doc.encode(), collection=collection_name, source="long.txt")
    ingest.ingest_bytes(b"Deploying needs cdk.", collection=collection_name, source="short.txt")
    service = QueryService(http_store, embedder)
    grouped = _query(service, collection_name, "deploying with cdk", top_k=5)
    assert [r.citation.source for r in grouped.results].count("long.txt") == 1
    ungrouped = _query(service, collection_name, "deploying with cdk", top_k=5, group_by_document=False)
    assert [r.citation.source for r in ungrouped.results].count("long.txt") > 1


def test_unknown_collection_and_rerank_without_model(indexed: Any, embedder: Any) -> None:
    ingest, collection = indexed
    service = QueryService(ingest.store, embedder)
    with pytest.raises(CollectionNotFoundError):
        _query(service, "no-such-collection", "x")
    with pytest.raises(BadRequestError, match="no reranker"):
        _query(service, collection, "x", rerank=True)


def test_cache_hit_and_invalidation_on_ingest_and_delete(indexed: Any, embedder: Any) -> None:
    ingest, collection = indexed
    service = QueryService(ingest.store, embedder, MemoryCache(100))
    first = _query(service, collection, "office cat")
    assert not first.cached
    again = _query(service, collection, "  Office   CAT ")
    assert again.cached and [r.id for r in again.results] == [r.id for r in first.results]
    ingest.ingest_bytes(b"# Office pets\n\nThe office dog guards the door.", collection=collection, source="pets.md")
    after_update = _query(service, collection, "office cat")
    assert not after_update.cached
    assert "dog" in next(r.text for r in after_update.results if r.citation.source == "pets.md")
    doc_id = after_update.results[0].citation.document_id
    _query(service, collection, "office cat")
    ingest.delete_document(collection, doc_id)
    after_delete = _query(service, collection, "office cat")
    assert not after_delete.cached and doc_id not in {r.citation.document_id for r in after_delete.results}


def test_lexical_rescue_finds_identifiers_outside_the_dense_pool(
    http_store: Any, embedder: Any, collection_name: str
) -> None:
    """With a dense pool of 5 out of 30 chunks, an exact code still reaches hybrid and lexical results."""
    from knowledgebeast.query import RetrievalConfig

    ingest = IngestService(http_store, embedder, embedder.token_counter)
    for i in range(29):
        text = f"Release note {i}: the deployment pipeline now supports failure reporting for service {i}."
        ingest.ingest_bytes(text.encode(), collection=collection_name, source=f"note{i}.txt")
    ingest.ingest_bytes(
        b"Gardening tips: water tomatoes daily. Ticket QX-90210.", collection=collection_name, source="garden.txt"
    )
    service = QueryService(http_store, embedder, config=RetrievalConfig(candidate_depth=5))
    dense = _query(service, collection_name, "deployment failure QX-90210", mode="dense", top_k=5)
    assert "garden.txt" not in {r.citation.source for r in dense.results}
    lexical = _query(service, collection_name, "deployment failure QX-90210", mode="lexical", top_k=5)
    assert lexical.results[0].citation.source == "garden.txt"
    hybrid = _query(service, collection_name, "deployment failure QX-90210", top_k=5)
    assert "garden.txt" in [r.citation.source for r in hybrid.results[:3]]
    assert _query(service, collection_name, "QX-90210", top_k=5).results[0].citation.source == "garden.txt"
