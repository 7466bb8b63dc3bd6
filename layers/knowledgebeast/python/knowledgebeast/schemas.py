"""Request and response models shared by the API, the CLI and the Lambda handlers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from knowledgebeast.store.filters import COMPARISON_OPS, LIST_OPS, MAX_CLAUSES, MAX_LIST_ITEMS

SearchMode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 2000
#: Collection names as identity.check_collection_name accepts them (with min/max length 3-63):
#: alphanumeric at both ends, and a '.' always followed by a non-'.' (no ".."), written without
#: look-around so pydantic's regex engine and JSON Schema tools both understand it.
COLLECTION_PATTERN = r"^[a-zA-Z0-9](?:[a-zA-Z0-9_-]|\.[a-zA-Z0-9_-])*\.?[a-zA-Z0-9]$"
#: The default MAX_FILTER_DEPTH, the nesting the published schema describes.
DOCUMENTED_FILTER_DEPTH = 5


def filter_json_schema(max_depth: int = DOCUMENTED_FILTER_DEPTH) -> dict[str, Any]:
    """The filter grammar of :mod:`knowledgebeast.store.filters` as JSON Schema, for OpenAPI.

    Parsing stays a plain dict validated by ``validate_filter`` (which gives the precise 400); this
    only makes the published contract say what is accepted, so clients and schema-driven tools do
    not have to discover it by trial. Recursion is unrolled to ``max_depth`` levels ($and/$or).
    """
    scalar: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
    operators: dict[str, Any] = {op: scalar for op in sorted(COMPARISON_OPS)}
    for op in ("$gt", "$gte", "$lt", "$lte"):
        operators[op] = {"type": "number"}
    # Chroma needs every item of an $in/$nin list to have one type (and int and float are two types).
    item_types: list[dict[str, Any]] = [
        {"type": "string"},
        {"type": "boolean"},
        {"type": "integer"},
        {"type": "number", "not": {"type": "integer"}},
    ]
    for op in sorted(LIST_OPS):
        operators[op] = {
            "anyOf": [
                {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_LIST_ITEMS} for item in item_types
            ]
        }
    comparison = {
        "type": "object",
        "properties": operators,
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }

    def level(depth: int) -> dict[str, Any]:
        patterns: dict[str, Any] = {"^[^$#]": {"anyOf": [scalar, comparison]}}
        if depth < max_depth:
            patterns["^\\$(and|or)$"] = {
                "type": "array",
                "items": level(depth + 1),
                "minItems": 2,
                "maxItems": MAX_CLAUSES,
            }
        return {
            "type": "object",
            "patternProperties": patterns,
            "additionalProperties": False,
            "minProperties": 0 if depth == 1 else 1,  # a top-level {} means "no filter"
            "maxProperties": MAX_CLAUSES,
        }

    return {"anyOf": [level(1), {"type": "null"}]}


class QueryRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "query": "How do I deploy to AWS?",
                    "top_k": 5,
                    "collection": "default",
                    "filters": {"media_type": {"$in": ["text/markdown", "application/pdf"]}},
                    "mode": "hybrid",
                }
            ]
        },
    )

    query: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS, description="Question or keywords.")
    top_k: int = Field(5, ge=1, le=100, description="Number of results (documents when grouped).")
    collection: str = Field("default", min_length=3, max_length=63, pattern=COLLECTION_PATTERN)
    filters: Annotated[dict[str, Any] | None, WithJsonSchema(filter_json_schema())] = Field(
        None,
        description="Metadata filter: {field: value}, {field: {$eq|$ne|$gt|$gte|$lt|$lte|$in|$nin: v}}, $and/$or "
        f"(nested at most MAX_FILTER_DEPTH levels, default {DOCUMENTED_FILTER_DEPTH}; "
        f"at most {MAX_CLAUSES} conditions).",
    )
    mode: SearchMode = Field("hybrid", description="hybrid (dense + BM25 blended), dense (vectors) or lexical (BM25).")
    rerank: bool = Field(False, description="Apply the cross-encoder (400 if none is configured).")
    group_by_document: bool = Field(True, description="Keep only the best chunk of each document.")
    min_score: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Drop results whose final `score` is below this. The scale depends on the mode: dense = "
        "cosine similarity in [-1, 1]; lexical = BM25 (>= 0, unbounded, grows with rare matching words); hybrid "
        "= min-max normalised dense + lexical in [0, FUSION_DENSE_WEIGHT + FUSION_LEXICAL_WEIGHT] ([0, 2] by "
        "default; relative to the candidate pool, so the best hit is usually near the top); with `rerank` the "
        "cross-encoder's raw score (any real number). A value outside the mode's range is a 400.",
        examples=[0.5],
    )


class Citation(BaseModel):
    """Where a passage comes from, precisely enough to open the source at the right place."""

    document_id: str = Field(
        ...,
        description="Stable id of the document: hash of (collection, source).",
        examples=["3f9a1c0e5b7d2a46c0de9e1f2a3b4c5d"],
    )
    source: str = Field(
        ...,
        description="The source URI given at ingest (file path, s3:// key or URL).",
        examples=["s3://kb-documents/handbook/deploy.md"],
    )
    title: str = Field(
        ..., description="Document title (first heading, PDF/DOCX title or file name).", examples=["Deploy"]
    )
    page: int | None = Field(None, description="1-based page number for paged formats (PDF), else null.", examples=[3])
    heading_path: list[str] = Field(
        default_factory=list,
        description="Headings enclosing the passage, outermost first.",
        examples=[["Deploy", "To AWS"]],
    )
    start: int = Field(
        ..., description="Offset of the passage's first character in the extracted text.", examples=[120]
    )
    end: int = Field(..., description="Offset just past the passage's last character (exclusive).", examples=[612])
    chunk_index: int = Field(..., description="0-based position of the chunk within its document.", examples=[1])


class QueryResult(BaseModel):
    """One ranked passage with its scores and citation."""

    id: str = Field(
        ...,
        description="Chunk id (document id + content hash + position).",
        examples=["3f9a1c0e5b7d2a46c0de9e1f2a3b4c5d-9c1e2b7a0d44-00001"],
    )
    text: str = Field(..., description="The passage text.", examples=["Run cdk deploy to put KnowledgeBeast on AWS."])
    score: float = Field(
        ...,
        description="Final ranking score; its scale depends on the mode (see `min_score` in the request).",
        examples=[1.8423],
    )
    dense_score: float | None = Field(
        None, description="Cosine similarity of the query and passage vectors, in [-1, 1].", examples=[0.6712]
    )
    lexical_score: float | None = Field(
        None, description="BM25 score over the candidate pool (>= 0); null in dense mode.", examples=[7.5311]
    )
    rerank_score: float | None = Field(
        None, description="Cross-encoder score when `rerank` was requested, else null.", examples=[None]
    )
    citation: Citation = Field(..., description="Where the passage comes from.")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="System fields (document_id, source, title, page, heading_path, start, end, chunk_index, "
        "media_type, ingested_at) and the user metadata given at ingest.",
        examples=[{"team": "ops", "media_type": "text/markdown"}],
    )


class QueryResponse(BaseModel):
    """Ranked results of one query."""

    results: list[QueryResult] = Field(..., description="Best first; at most `top_k`, fewer below `min_score`.")
    collection: str = Field(..., description="The collection searched.", examples=["default"])
    took_ms: float = Field(..., description="Server-side time of this query in milliseconds.", examples=[23.4])
    cached: bool = Field(False, description="True when the answer came from the query cache.", examples=[False])
    mode: SearchMode = Field("hybrid", description="The retrieval mode used.", examples=["hybrid"])
