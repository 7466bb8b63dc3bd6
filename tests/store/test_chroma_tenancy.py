"""CHROMA_TENANT / CHROMA_DATABASE reach the HTTP client: a distributed or hosted Chroma's
databases are separate namespaces, checked against a real ``chroma run`` server."""

from __future__ import annotations

import uuid
from typing import Any


def test_settings_select_tenant_and_database(chroma_server: Any, make_settings: Any) -> None:
    import chromadb

    from knowledgebeast.factory import build_store

    tenant, database = f"tenant-{uuid.uuid4().hex[:8]}", f"db-{uuid.uuid4().hex[:8]}"
    admin = chromadb.AdminClient(
        chromadb.Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host="127.0.0.1",
            chroma_server_http_port=chroma_server.port,
            anonymized_telemetry=False,
        )
    )
    admin.create_tenant(tenant)
    admin.create_database(database, tenant=tenant)

    scoped = build_store(make_settings(chroma_tenant=tenant, chroma_database=database))
    default = build_store(make_settings())
    name = f"t-{uuid.uuid4().hex[:10]}"
    scoped.ensure_collection(name)

    assert name in {info.name for info in scoped.list_collections()}
    assert name not in {info.name for info in default.list_collections()}
