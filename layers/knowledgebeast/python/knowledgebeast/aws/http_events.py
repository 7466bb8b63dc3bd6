"""API Gateway and Function URL events -> the paths the FastAPI routes expect.

Mangum 0.22 routes on ``requestContext.http.path`` (payload 2.0) or ``path`` (payload 1.0) and
only removes a *static* ``api_gateway_base_path``; it never looks at ``requestContext.stage``.
What AWS actually sends (checked against the documented payloads):

- HTTP API, payload 2.0, a named stage on the ``execute-api`` domain: ``rawPath`` and
  ``requestContext.http.path`` both start with ``/<stage>`` (``/prod/api/v1/query``), so without
  help every route 404s. The ``$default`` stage adds nothing.
- HTTP API, payload 1.0, a named stage: ``path`` and ``requestContext.path`` both carry the stage.
- REST API (payload 1.0): ``path`` never carries the stage; ``requestContext.path`` does. A REST
  API whose stage is named like a route prefix (``api``) must therefore not be stripped.
- Custom domains: the stage never appears, but an API mapping key (base path) may; that one is
  static and belongs to Mangum's ``api_gateway_base_path``.
- Lambda Function URLs: payload 2.0 with stage ``$default``: nothing to do.

:func:`strip_stage` removes the stage only in the cases where AWS put it there, and returns a new
event (the caller's dict is never mutated, so Powertools still logs what AWS sent).
"""

from __future__ import annotations

from typing import Any

_DEFAULT_STAGE = "$default"


def _has_prefix(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _without(path: str, prefix: str) -> str:
    return path[len(prefix) :] or "/"


def strip_stage(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with the stage segment removed from its path where API Gateway inserted one."""
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return event
    stage = context.get("stage")
    if not isinstance(stage, str) or not stage or stage == _DEFAULT_STAGE:
        return event
    prefix = f"/{stage}"
    if event.get("version") == "2.0":
        domain = str(context.get("domainName") or "")
        if domain and ".execute-api." not in domain:
            return event  # custom domain: the stage is not in the path
        http = context.get("http")
        if not isinstance(http, dict) or not _has_prefix(str(http.get("path") or ""), prefix):
            return event
        stripped = dict(event)
        stripped["requestContext"] = {**context, "http": {**http, "path": _without(http["path"], prefix)}}
        raw_path = event.get("rawPath")
        if isinstance(raw_path, str) and _has_prefix(raw_path, prefix):
            stripped["rawPath"] = _without(raw_path, prefix)
        return stripped
    path = event.get("path")
    if not isinstance(path, str) or not _has_prefix(path, prefix):
        return event
    context_path = context.get("path")
    if context_path is not None and context_path != path:
        return event  # REST API: requestContext.path = /<stage> + path, so path is already clean
    return {**event, "path": _without(path, prefix)}


#: The conventional header a proxy uses to tell an app the path prefix it removed.
FORWARDED_PREFIX = "x-forwarded-prefix"


def stage_prefix(event: dict[str, Any]) -> str:
    """The path the client saw in front of the path the app routes (``/prod``), or ''.

    HTTP API (both payloads): the stage that :func:`strip_stage` removes. REST API: ``path`` is
    already clean but the browser's URL still holds the stage, which ``requestContext.path`` shows.
    """
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return ""
    stripped = strip_stage(event)
    if stripped is not event:
        return f"/{context['stage']}"
    path, context_path = event.get("path"), context.get("path")
    if isinstance(path, str) and isinstance(context_path, str) and context_path != path and context_path.endswith(path):
        return context_path[: len(context_path) - len(path)].rstrip("/")
    return ""


def for_asgi(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`strip_stage`, plus the stage as ``X-Forwarded-Prefix`` so pages can build their links."""
    stripped = strip_stage(event)
    prefix = stage_prefix(event)
    if not prefix:
        return stripped
    out = dict(stripped)
    headers = {k: v for k, v in (stripped.get("headers") or {}).items() if k.lower() != FORWARDED_PREFIX}
    out["headers"] = {**headers, FORWARDED_PREFIX: prefix}
    multi = stripped.get("multiValueHeaders")
    if isinstance(multi, dict):
        kept = {k: v for k, v in multi.items() if k.lower() != FORWARDED_PREFIX}
        out["multiValueHeaders"] = {**kept, FORWARDED_PREFIX: [prefix]}
    return out
