"""Rate limiting: the limiters themselves (in process and on real Redis) and the API's behaviour.

Redis failure modes (down, never answering) are in tests/faults/test_redis_faults.py.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledgebeast.security.ratelimit import KEY_PREFIX, MemoryRateLimiter, RedisRateLimiter, client_ip
from tests.security.helpers import ADMIN_KEY, TENANT_A_KEY, TENANT_B_KEY, assert_error, bearer, key, mint


def _redis(port: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5.0, socket_connect_timeout=5.0)


# the limiters ---------------------------------------------------------------------------------


class ManualClock:
    """A monotonic clock the test moves by hand: windows open and close exactly when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_fixed_window() -> None:
    clock = ManualClock(1000.0)
    limiter = MemoryRateLimiter(3, window=0.3, clock=clock)
    decisions = [limiter.hit("a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 and d.reset_seconds == 1 for d in decisions)  # rounded up, never 0
    assert decisions[-1].retry_after == 1
    assert limiter.hit("b").allowed  # another caller has its own window
    clock.now += 0.29
    assert not limiter.hit("a").allowed  # still the same window
    clock.now += 0.02
    assert limiter.hit("a").remaining == 2  # a new window


def test_reset_never_exceeds_the_window() -> None:
    """Regression: ``(now + 60) - now`` is 60.00000000000023 at this clock value, and ceil gave 61.

    This is the cause of the X-RateLimit-Reset failure seen under CI (``1 <= reset <= 60``): it
    depended on the monotonic clock's value, not on load.
    """
    now = 1988.0009999766369
    assert (now + 60.0) - now > 60  # the floating-point case this test is about
    limiter = MemoryRateLimiter(3, window=60, clock=ManualClock(now))
    first = limiter.hit("a")
    assert first.reset_seconds == 60
    assert first.headers()["X-RateLimit-Reset"] == "60"


def test_memory_limiter_memory_is_bounded() -> None:
    limiter = MemoryRateLimiter(5, max_identities=100)
    for i in range(1000):
        limiter.hit(f"spoofed-{i}")
    assert len(limiter._windows) <= 100
    assert limiter.hit("spoofed-999").remaining == 3  # recent callers are the ones kept


def test_redis_limiter_window_and_headers(redis_server: Any) -> None:
    limiter = RedisRateLimiter(_redis(redis_server.port), 3)
    identity = f"api_key:{uuid.uuid4().hex}"
    decisions = [limiter.hit(identity) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    resets = [d.reset_seconds for d in decisions]
    assert all(1 <= r <= 60 for r in resets) and resets == sorted(resets, reverse=True)  # counts down
    assert decisions[-1].headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(decisions[-1].reset_seconds),
    }
    keys = list(_redis(redis_server.port).scan_iter(match="kb:rl:*"))
    assert keys and all(identity.encode() not in k for k in keys)  # identities are hashed in Redis
    assert all(0 < _redis(redis_server.port).pttl(k) <= 60_000 for k in keys)
    assert not limiter.degraded


def test_redis_limiter_is_shared_and_atomic_across_instances(redis_server: Any) -> None:
    """Two 'Lambda instances' (own clients, own limiters) hammering one caller concurrently:
    exactly ``limit`` requests pass, never more (INCR + expiry in one script)."""
    instances = [RedisRateLimiter(_redis(redis_server.port), 50) for _ in range(2)]
    identity = f"jwt:{uuid.uuid4().hex}"
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker(limiter: RedisRateLimiter) -> None:
        for _ in range(10):
            ok = limiter.hit(identity).allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker, args=(instances[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 120 and allowed.count(True) == 50


def test_redis_limiter_repairs_a_key_without_expiry(redis_server: Any) -> None:
    client = _redis(redis_server.port)
    limiter = RedisRateLimiter(client, 10)
    identity = f"api_key:{uuid.uuid4().hex}"
    limiter.hit(identity)
    stored = KEY_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:32]
    assert client.get(stored) == b"1"
    client.persist(stored)  # an operator fiddling with Redis must not block a caller forever
    assert client.pttl(stored) == -1
    assert limiter.hit(identity).remaining == 8
    assert 0 < client.pttl(stored) <= 60_000


def test_client_ip_sources() -> None:
    peer = {"client": ("10.1.2.3", 5555), "headers": [(b"x-forwarded-for", b"6.6.6.6")]}
    assert client_ip(peer) == "10.1.2.3"  # not behind AWS: XFF is the client's to forge
    v2 = {"aws.event": {"requestContext": {"http": {"sourceIp": "1.1.1.1"}}}, "headers": [], "client": ("x", 0)}
    assert client_ip(v2) == "1.1.1.1"
    v1 = {"aws.event": {"requestContext": {"identity": {"sourceIp": "2.2.2.2"}}}, "client": None}
    assert client_ip(v1) == "2.2.2.2"
    alb = {
        "aws.event": {"requestContext": {"elb": {"targetGroupArn": "arn"}}},
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 7.7.7.7"), (b"x-forwarded-for", b"3.3.3.3")],
    }
    assert client_ip(alb) == "3.3.3.3"  # the hop the AWS proxy appended, not what the client wrote
    assert client_ip({}) == "unknown"


# the API ----------------------------------------------------------------------------------------


def _limits(response: Any) -> tuple[int, int, int]:
    h = response.headers
    return int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]), int(h["x-ratelimit-reset"])


def test_api_limits_per_credential_with_headers(secure_client: Callable[..., TestClient]) -> None:
    client = secure_client(rate_limit_per_minute=3)
    seen = []
    for _ in range(3):
        response = client.get("/api/v1/collections", headers=key(TENANT_A_KEY))
        assert response.status_code == 200
        seen.append(_limits(response))
    assert [s[:2] for s in seen] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= s[2] <= 60 for s in seen)

    refused = client.get("/api/v1/collections", headers=key(TENANT_A_KEY))
    error = assert_error(refused, 429, "rate_limited")
    assert error["details"] == {"limit": 3, "window_seconds": 60}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert _limits(refused)[:2] == (3, 0)
    # a query is refused the same way, before any work is done
    assert_error(client.post("/api/v1/query", json={"query": "x"}, headers=key(TENANT_A_KEY)), 429, "rate_limited")

    # other credentials have their own buckets, JWT subjects are namespaced away from key labels
    assert client.get("/api/v1/collections", headers=key(TENANT_B_KEY)).status_code == 200
    label = client.app.state.authenticator.identify(TENANT_A_KEY, None).subject  # type: ignore[attr-defined]
    same_name = bearer(mint(sub=label))
    assert client.get("/api/v1/collections", headers=same_name).status_code == 200
    # errors raised after the limiter carry the headers too
    missing = client.get("/api/v1/collections/nope-nope", headers=key(ADMIN_KEY))
    assert_error(missing, 404, "collection_not_found")
    assert _limits(missing)[:2] == (3, 2)


def test_probes_docs_and_metrics_are_never_limited(secure_client: Callable[..., TestClient]) -> None:
    client = secure_client(rate_limit_per_minute=1, metrics_public=True)
    for _ in range(5):
        for path in ("/health", "/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert "x-ratelimit-limit" not in response.headers


def test_failed_authentication_is_limited_per_ip(secure_client: Callable[..., TestClient]) -> None:
    """Guessing keys spends the caller IP's quota; once spent, guesses get 429, not an answer."""
    client = secure_client(rate_limit_per_minute=3)
    for guess in range(3):
        response = client.get("/api/v1/collections", headers=key(f"guess-{guess}"))
        assert_error(response, 401, "unauthorized")
        assert _limits(response)[1] == 2 - guess
    assert_error(client.get("/api/v1/collections", headers=key("guess-4")), 429, "rate_limited")
    assert_error(client.get("/api/v1/collections", headers=key(ADMIN_KEY + "x")), 429, "rate_limited")
    # a legitimate caller from the same address is not locked out: its credential has its own bucket
    assert client.get("/api/v1/collections", headers=key(ADMIN_KEY)).status_code == 200
    other_ip = TestClient(client.app, client=("198.51.100.7", 4000), raise_server_exceptions=False)
    assert_error(other_ip.get("/api/v1/collections", headers=key("guess-5")), 401, "unauthorized")


def test_anonymous_callers_are_limited_per_ip(make_services: Any) -> None:
    from knowledgebeast.api.app import create_app

    app = create_app(services=make_services(app_env="development", rate_limit_per_minute=2))
    one = TestClient(app, client=("192.0.2.1", 1000), raise_server_exceptions=False)
    two = TestClient(app, client=("192.0.2.2", 1000), raise_server_exceptions=False)
    assert [one.get("/api/v1/collections").status_code for _ in range(3)] == [200, 200, 429]
    assert two.get("/api/v1/collections").status_code == 200
    # X-Forwarded-For from a direct client is not trusted: it cannot buy a fresh bucket
    spoofed = one.get("/api/v1/collections", headers={"X-Forwarded-For": "203.0.113.99"})
    assert_error(spoofed, 429, "rate_limited")


def test_rate_limit_zero_disables_it(secure_client: Callable[..., TestClient]) -> None:
    client = secure_client(rate_limit_per_minute=0)
    for _ in range(5):
        response = client.get("/api/v1/collections", headers=key(ADMIN_KEY))
        assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers


def test_limit_is_shared_by_instances_through_redis(
    secure_client: Callable[..., TestClient], redis_server: Any
) -> None:
    """Two apps (two Lambda containers) on one Redis spend one quota; the cache pool is reused."""
    from knowledgebeast.cache.redis_cache import RedisCache

    instances = [
        secure_client(rate_limit_per_minute=4, redis_host="127.0.0.1", redis_port=redis_server.port) for _ in range(2)
    ]
    token = bearer(mint(sub=f"shared-{uuid.uuid4().hex}"))
    statuses = [instances[i % 2].get("/api/v1/collections", headers=token).status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    app = instances[0].app
    cache = app.state.services.cache  # type: ignore[attr-defined]
    assert isinstance(cache, RedisCache)
    assert app.state.rate_limiter.backend == "redis"  # type: ignore[attr-defined]
    assert app.state.rate_limiter._client is cache.client  # type: ignore[attr-defined]


def test_lambda_source_ip_through_mangum(make_services: Any) -> None:
    """In Lambda the bucket is API Gateway's sourceIp; a forged X-Forwarded-For changes nothing."""
    from mangum import Mangum

    from knowledgebeast.api.app import create_app

    handler = Mangum(create_app(services=make_services(app_env="development", rate_limit_per_minute=2)), lifespan="off")

    def call(source_ip: str, forwarded: str, version: str = "2.0") -> dict[str, Any]:
        event = _api_gateway_event("/api/v1/collections", source_ip, forwarded, version)
        return handler(event, _LambdaContext())  # type: ignore[arg-type]

    first = call("198.51.100.1", "203.0.113.1")
    assert first["statusCode"] == 200
    assert first["headers"]["x-ratelimit-remaining"] == "1"
    assert call("198.51.100.1", "203.0.113.2")["statusCode"] == 200
    refused = call("198.51.100.1", "203.0.113.3")
    assert refused["statusCode"] == 429 and refused["headers"]["retry-after"]
    assert call("198.51.100.2", "203.0.113.1")["statusCode"] == 200
    assert call("198.51.100.3", "", version="1.0")["statusCode"] == 200  # REST API (v1) identity.sourceIp


class _LambdaContext:
    aws_request_id = "req-0000"
    function_name = "query"


def _api_gateway_event(path: str, source_ip: str, forwarded: str, version: str) -> dict[str, Any]:
    headers = {"host": "abc.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"}
    if forwarded:
        headers["x-forwarded-for"] = f"{forwarded}, {source_ip}"
    if version == "2.0":
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "http": {
                    "method": "GET",
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": "pytest",
                },
                "requestId": uuid.uuid4().hex,
                "stage": "$default",
            },
            "isBase64Encoded": False,
        }
    return {
        "version": "1.0",
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "requestContext": {"identity": {"sourceIp": source_ip}, "requestId": uuid.uuid4().hex, "stage": "prod"},
        "isBase64Encoded": False,
        "body": None,
    }


@pytest.mark.parametrize("limit", [1])
def test_rate_limited_response_never_leaks_the_credential(secure_client: Callable[..., TestClient], limit: int) -> None:
    client = secure_client(rate_limit_per_minute=limit)
    client.get("/api/v1/collections", headers=key(TENANT_A_KEY))
    refused = client.get("/api/v1/collections", headers=key(TENANT_A_KEY))
    assert refused.status_code == 429
    assert TENANT_A_KEY not in refused.text and TENANT_A_KEY not in str(refused.headers)
