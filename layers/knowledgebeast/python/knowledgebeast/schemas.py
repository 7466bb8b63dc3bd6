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
    mode: SearchMode = "hybrid"
    rerank: bool = Field(False, description="Apply the cross-encoder (400 if none is configured).")
    group_by_document: bool = Field(True, description="Keep only the best chunk of each document.")


class Citation(BaseModel):
    document_id: str
    source: str
    title: str
    page: int | None = None
    heading_path: list[str] = Field(default_factory=list)
    start: int
    end: int
    chunk_index: int


class QueryResult(BaseModel):
    id: str
    text: str
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    rerank_score: float | None = None
    citation: Citation
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class QueryResponse(BaseModel):
    results: list[QueryResult]
    collection: str
    took_ms: float
    cached: bool = False
    mode: SearchMode = "hybrid"
