"""strip_stage: the stage comes out exactly where API Gateway put it in."""

from __future__ import annotations

import copy
from typing import Any

from knowledgebeast.aws.http_events import strip_stage
from tests.functions import events


def test_http_api_named_stage_is_stripped_from_both_paths() -> None:
    event = events.load("http_api_v2_named_stage.json")
    original = copy.deepcopy(event)
    out = strip_stage(event)
    assert out["rawPath"] == "/api/v1/query"
    assert out["requestContext"]["http"]["path"] == "/api/v1/query"
    assert event == original  # the input is not mutated


def test_default_stage_and_function_url_are_untouched() -> None:
    for name in ("http_api_v2.json", "function_url.json"):
        event = events.load(name)
        assert strip_stage(event) is event


def test_stage_root_becomes_slash() -> None:
    event = events.load("http_api_v2_named_stage.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod"
    assert strip_stage(event)["requestContext"]["http"]["path"] == "/"


def test_only_a_whole_segment_is_a_stage() -> None:
    event = events.load("http_api_v2_named_stage.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/production/api"
    assert strip_stage(event) is event


def test_custom_domain_is_untouched() -> None:
    event = events.load("http_api_v2_named_stage.json")
    event["requestContext"]["domainName"] = "search.example.com"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/api/v1/query"  # a real route there
    assert strip_stage(event) is event


def test_rest_api_path_is_already_clean() -> None:
    event = events.load("rest_api_v1.json")
    assert strip_stage(event) is event


def test_http_api_payload_1_named_stage_is_stripped() -> None:
    event = events.load("rest_api_v1.json")
    event["version"] = "1.0"
    event["path"] = event["requestContext"]["path"] = "/prod/api/v1/query"
    assert strip_stage(event)["path"] == "/api/v1/query"


def test_events_without_request_context_pass_through() -> None:
    event: dict[str, Any] = {"Records": []}
    assert strip_stage(event) is event
