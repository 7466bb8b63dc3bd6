"""Request and response models shared by the API, the CLI and the Lambda handlers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SearchMode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 2000


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
    collection: str = Field("default", min_length=3, max_length=63, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$")
    filters: dict[str, Any] | None = Field(
        None, description="Metadata filter: {field: value}, {field: {$eq|$ne|$gt|$gte|$lt|$lte|$in|$nin: v}}, $and/$or."
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
