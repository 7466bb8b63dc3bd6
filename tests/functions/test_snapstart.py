"""SnapStart, simulated in process: init -> snapshot -> the world moves on -> restore -> first query.

Nothing runs SnapStart hooks locally, so the test does what the Lambda runtime does on restore:
it calls every hook the query handler registered with ``snapshot_restore_py``. Between "snapshot"
and "restore" the connections of the snapshot are broken for real (the Chroma and Redis servers
restart on the same ports) and the API-key secret is rotated; the next query must use fresh
clients, the rotated key, and still answer correctly.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_DIR
from tests.functions import events
from tests.functions.conftest import load_handler
from tests.utils.servers import ServerProcess, start_chroma, start_redis

COLLECTION = "snapstart"
OLD_KEY = "key-before-the-snapshot-0123456789"
NEW_KEY = "key-after-rotation-abcdefghijklmnop"
DOC = b"The lighthouse keeper lights the lamp at dusk and logs every passing ship."


class Restored:
    def __init__(self, module: Any, hooks: list[Any], chroma: ServerProcess, redis: ServerProcess, sm: Any) -> None:
        self.module, self.hooks, self.chroma, self.redis, self.secrets = module, hooks, chroma, redis, sm

    def ask(self, key: str) -> tuple[int, dict[str, Any]]:
        event = events.http_event("http_api_v2.json", {"query": "who lights the lamp", "collection": COLLECTION})
        event["headers"]["x-api-key"] = key
        response = self.module.handler(event, events.FakeContext())
        return int(response["statusCode"]), json.loads(response["body"])

    def restore(self) -> None:
        """What the runtime does before the first invocation of a restored environment."""
        for function, args, kwargs in self.hooks:
            function(*args, **kwargs)


@pytest.fixture
def snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Restored]:
    import boto3
    from moto import mock_aws
    from snapshot_restore_py import get_after_restore

    from knowledgebeast.observability import metrics

    chroma, redis = start_chroma(tmp_path / "chroma"), start_redis()
    package_logger = logging.getLogger("knowledgebeast")
    saved = (list(package_logger.handlers), package_logger.propagate, package_logger.level, list(metrics._sinks))
    try:
        with mock_aws():
            sm = boto3.client("secretsmanager", region_name="us-east-1")
            arn = sm.create_secret(Name="kb-api-keys", SecretString=OLD_KEY)["ARN"]
            for name, value in {
                "APP_ENV": "production",
                "API_KEYS_SECRET_ARN": arn,
                "CHROMA_HOST": "127.0.0.1",
                "CHROMA_PORT": str(chroma.port),
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis.port),
                "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
                "DATA_DIR": str(tmp_path / "data"),
            }.items():
                monkeypatch.setenv(name, value)
            for name in ("API_KEY", "JWT_SECRET", "CONFIG_FILE", "API_GATEWAY_BASE_PATH"):
                monkeypatch.delenv(name, raising=False)
            registered = len(get_after_restore())
            module = load_handler("query")  # the init phase: what the snapshot holds
            hooks = list(get_after_restore()[registered:])
            module.app.state.services.ingest_service.ingest_bytes(DOC, collection=COLLECTION, source="keeper.txt")
            yield Restored(module, hooks, chroma, redis, sm)
    finally:
        chroma.stop()
        redis.stop()
        package_logger.handlers, package_logger.propagate = saved[0], saved[1]
        package_logger.setLevel(saved[2])
        metrics._sinks[:] = saved[3]
        from knowledgebeast.config import get_settings

        get_settings.cache_clear()


def test_restore_hooks_give_fresh_connections_secrets_and_randomness(snapshot: Restored) -> None:
    assert len(snapshot.hooks) == 1, "the query handler registers its after-restore hook at init"
    status, body = snapshot.ask(OLD_KEY)
    assert status == 200 and body["results"][0]["citation"]["source"] == "keeper.txt"
    before = snapshot.module.app.state.services
    old_store, old_cache = before.store, before.cache
    old_connections = list(old_cache.client.connection_pool._available_connections)
    assert old_connections, "the snapshot holds a pooled Redis connection"

    # the world after the snapshot: both servers restarted (every old socket is dead), key rotated
    snapshot.chroma.restart()
    snapshot.redis.restart()
    snapshot.secrets.put_secret_value(SecretId="kb-api-keys", SecretString=NEW_KEY)
    snapshot_random_state = random.getstate()

    snapshot.restore()

    after = snapshot.module.app.state.services
    assert after is not before and after.store is not old_store and after.cache is not old_cache
    assert after.embedder is before.embedder  # the model stays: that is what the snapshot is for
    assert all(conn._sock is None for conn in old_connections)  # the snapshot's sockets were closed
    status, body = snapshot.ask(NEW_KEY)
    assert status == 200 and body["results"][0]["citation"]["source"] == "keeper.txt"
    assert body["cached"] is False  # the restarted Redis is empty: answered through fresh clients
    status, body = snapshot.ask(NEW_KEY)
    assert status == 200 and body["cached"] is True  # ... and cached in the restarted Redis
    assert after.cache.client.exists(after.store._versions.key(COLLECTION))
    assert snapshot.ask(OLD_KEY)[0] == 401  # the rotated-out key is refused after restore

    # two environments restored from one snapshot must not share a random sequence
    random.setstate(snapshot_random_state)
    snapshot.restore()
    first = random.random()
    random.setstate(snapshot_random_state)
    snapshot.restore()
    assert random.random() != first
