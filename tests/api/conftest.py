from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(make_services: Any) -> TestClient:
    from knowledgebeast.api.app import create_app

    services = make_services()
    return TestClient(create_app(services=services), raise_server_exceptions=False)


@pytest.fixture
def seeded(client: TestClient, collection_name: str) -> tuple[TestClient, str]:
    docs = [
        ("deploy.md", "# Deploy\n\nRun cdk deploy to put KnowledgeBeast on AWS.", {"team": "ops"}),
        ("cache.md", "# Cache\n\nAnswers are cached in Redis for an hour.", {"team": "dev"}),
    ]
    for source, text, meta in docs:
        response = client.post(
            "/api/v1/documents",
            json={
                "text": text,
                "source": source,
                "collection": collection_name,
                "metadata": meta,
                "media_type": "text/markdown",
            },
        )
        assert response.status_code == 201, response.text
    return client, collection_name
