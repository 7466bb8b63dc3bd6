"""Documents: ingest by JSON text or multipart upload, read and delete by id."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Request, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from knowledgebeast.api.deps import (
    IngestPrincipal,
    IngestServiceDep,
    JsonBody,
    QueryPrincipal,
    RegistryDep,
    SettingsDep,
)
from knowledgebeast.api.errors import error_responses
from knowledgebeast.api.routing import StrictJSONRoute, strict_json_loads
from knowledgebeast.errors import (
    DocumentNotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from knowledgebeast.ingest import IngestResult
from knowledgebeast.record_format import MAX_USER_METADATA_KEYS, SYSTEM_KEYS
from knowledgebeast.registry import DocumentRecord, DocumentRegistry
from knowledgebeast.schemas import COLLECTION_PATTERN
from knowledgebeast.security.principal import Principal

router = APIRouter(prefix="/api/v1/documents", tags=["documents"], route_class=StrictJSONRoute)

#: What clean_user_metadata accepts, published so a schema-valid request is an accepted one: at most
#: MAX_USER_METADATA_KEYS keys, none empty, starting with '$', '#' or 'kb_', or naming a system field.
METADATA_SCHEMA: dict[str, Any] = {
    "maxProperties": MAX_USER_METADATA_KEYS,
    "propertyNames": {
        "pattern": r"^(?:[^$#k][\s\S]*|k|k[^b][\s\S]*|kb|kb[^_][\s\S]*)$",
        "not": {"enum": sorted(SYSTEM_KEYS)},
    },
}


class TextDocument(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "# Runbook\nRestart the API with make run.",
                    "title": "Runbook",
                    "source": "wiki/runbook.md",
                    "collection": "default",
                    "metadata": {"team": "platform"},
                    "media_type": "text/markdown",
                }
            ]
        },
    )

    text: str = Field(..., min_length=1, description="Document text (plain or markdown).")
    source: str = Field(
        ..., min_length=1, max_length=1024, description="Stable URI; re-sending it replaces the document."
    )
    title: str | None = Field(None, max_length=512)
    collection: str = Field("default", min_length=3, max_length=63, pattern=COLLECTION_PATTERN)
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict, json_schema_extra=METADATA_SCHEMA)
    media_type: str = Field("text/plain", pattern=r"^text/(plain|markdown)$")


_DOCUMENT_ID = Field(
    ..., description="Stable id: hash of (collection, source).", examples=["3f9a1c0e5b7d2a46c0de9e1f2a3b4c5d"]
)
_COLLECTION = Field(..., description="Collection holding the document.", examples=["default"])
_SOURCE = Field(..., description="Source URI given at ingest (path, s3:// key or URL).", examples=["wiki/runbook.md"])


class DocumentOut(BaseModel):
    """What an ingest or delete did to one document."""

    document_id: str = _DOCUMENT_ID
    collection: str = _COLLECTION
    source: str = _SOURCE
    outcome: str = Field(
        ...,
        description="indexed (new), replaced (content changed), unchanged (same bytes: nothing written) or deleted.",
        examples=["indexed"],
    )
    chunks: int = Field(..., description="Chunks written (or removed, for a delete).", examples=[4])
    title: str = Field("", description="Document title as indexed.", examples=["Runbook"])


class DocumentInfo(BaseModel):
    """The registry record of a document."""

    document_id: str = _DOCUMENT_ID
    collection: str = _COLLECTION
    source: str = _SOURCE
    title: str = Field(..., description="Title (first heading, PDF/DOCX title or file name).", examples=["Runbook"])
    media_type: str = Field(..., description="Detected media type of the source.", examples=["text/markdown"])
    chunk_count: int = Field(..., description="Chunks of the current content version.", examples=[4])
    ingested_at: str = Field(
        ...,
        description="When this content version was indexed (ISO 8601, UTC).",
        examples=["2026-12-02T05:40:00+00:00"],
    )
    content_hash: str = Field(
        ...,
        description="Hash of the bytes and chunking settings: re-ingesting the same content writes nothing.",
        examples=["9c1e2b7a0d44f1e3"],
    )


def _out(result: IngestResult) -> DocumentOut:
    return DocumentOut(
        document_id=result.document_id,
        collection=result.collection,
        source=result.source,
        outcome=result.outcome,
        chunks=result.chunks,
        title=result.title,
    )


@router.post(
    "",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Ingest a document (JSON)",
    responses=error_responses(415),
)
async def ingest_text(
    body: TextDocument, _json: JsonBody, principal: IngestPrincipal, service: IngestServiceDep
) -> DocumentOut:
    """Index text through the same pipeline as files; idempotent per (collection, source)."""
    principal.require_collection(body.collection)
    data = body.text.encode()
    suffix = ".md" if body.media_type == "text/markdown" else ".txt"
    metadata: dict[str, Any] = dict(body.metadata)
    result = await anyio.to_thread.run_sync(
        lambda: service.ingest_bytes(
            data,
            collection=body.collection,
            source=body.source,
            filename=body.source if body.source.endswith(suffix) else body.source + suffix,
            media_type=body.media_type,
            metadata=metadata,
            title=body.title,
        )
    )
    return _out(result)


@router.post(
    "/upload",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file",
    responses=error_responses(415),
)
async def upload(
    request: Request,
    principal: IngestPrincipal,
    service: IngestServiceDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="txt, md, html, pdf, docx or json")],
    collection: Annotated[str, Form(min_length=3, max_length=63, pattern=COLLECTION_PATTERN)] = "default",
    source: Annotated[str | None, Form(max_length=1024)] = None,
    metadata: Annotated[str | None, Form(description="JSON object of metadata")] = None,
) -> DocumentOut:
    """Multipart upload of one file (size bounded by MAX_UPLOAD_BYTES)."""
    principal.require_collection(collection)
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLargeError(f"file exceeds {settings.max_upload_bytes} bytes")
    try:
        extra = strict_json_loads(metadata) if metadata else {}
    except json.JSONDecodeError as exc:
        raise ValidationError("metadata must be a JSON object") from exc
    if not isinstance(extra, dict):
        raise ValidationError("metadata must be a JSON object")
    filename = file.filename or "upload"
    declared = file.content_type if file.content_type not in (None, "application/octet-stream") else None
    result = await anyio.to_thread.run_sync(
        lambda: service.ingest_bytes(
            data,
            collection=collection,
            source=source or filename,
            filename=filename,
            media_type=declared,
            metadata=extra,
        )
    )
    return _out(result)


async def _visible_record(registry: DocumentRegistry, document_id: str, principal: Principal) -> DocumentRecord:
    """A live record in a collection the caller may see; anything else is 404 (never 403: no probing)."""
    record = await anyio.to_thread.run_sync(registry.get, document_id)
    if record is None or record.deleted or not principal.can_access(record.collection):
        raise DocumentNotFoundError(f"document {document_id!r} not found")
    return record


@router.get(
    "/{document_id}", response_model=DocumentInfo, summary="Get a document's record", responses=error_responses(404)
)
async def get_document(document_id: str, principal: QueryPrincipal, registry: RegistryDep) -> DocumentInfo:
    """The registry record of a document: source, title, chunk count, content hash."""
    record = await _visible_record(registry, document_id, principal)
    return DocumentInfo(**{k: getattr(record, k) for k in DocumentInfo.model_fields})


@router.delete(
    "/{document_id}", response_model=DocumentOut, summary="Delete a document", responses=error_responses(404)
)
async def delete_document(
    document_id: str, principal: IngestPrincipal, registry: RegistryDep, service: IngestServiceDep
) -> DocumentOut:
    """Remove every chunk of the document."""
    record = await _visible_record(registry, document_id, principal)
    result = await anyio.to_thread.run_sync(service.delete_document, record.collection, document_id)
    return _out(result)
