"""Apps with authentication switched on.

Every app here is the real ``create_app`` over real Chroma (and real Redis where a test asks for
it); only the credentials differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.helpers import ADMIN_KEY, AUDIENCE, ISSUER, JWT_SECRET, TENANT_A_KEY, TENANT_B_KEY


@pytest.fixture
def collections_ab(collection_name: str) -> tuple[str, str]:
    """Two fresh collection names: tenant A's and tenant B's."""
    return f"{collection_name}-a", f"{collection_name}-b"


@pytest.fixture
def secure_client(make_services: Any, collections_ab: tuple[str, str]) -> Callable[..., TestClient]:
    """A TestClient over an app with API keys (admin, tenant A on coll A, tenant B on coll B) and JWT."""
    from knowledgebeast.api.app import create_app

    coll_a, coll_b = collections_ab

    def factory(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "app_env": "production",
            "api_key": f"{ADMIN_KEY},{TENANT_A_KEY}:{coll_a},{TENANT_B_KEY}:{coll_b}",
            "jwt_secret": JWT_SECRET,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
        }
        values.update(overrides)
        services = make_services(**values)
        return TestClient(create_app(services=services), raise_server_exceptions=False)

    return factory
