"""Module-level app for ``uvicorn knowledgebeast.api.asgi:app`` (and ``serve`` with WORKERS > 1).

Each worker process imports this and builds its own app from the environment's settings.
"""

from knowledgebeast.api.app import create_app

app = create_app()
