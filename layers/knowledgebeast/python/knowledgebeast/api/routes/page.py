"""The search page at ``/`` and its static files: no credentials needed, no rate limit charged.

The page is rendered with a ``<base href>`` naming the public prefix (an API Gateway stage, a
custom-domain base path, a proxy's root path), so every link and API call in it is relative and
the same files work at ``/``, at ``/prod/`` and at ``/kb/``. A strict Content-Security-Policy
allows scripts, styles and requests to this origin only: no inline code, nothing from a CDN.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from knowledgebeast.api.deps import SettingsDep
from knowledgebeast.errors import NotFoundError
from knowledgebeast.web import Asset, asset, digest, render_page

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: Assets are addressed by content hash (``?v=``): one year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The page (and an asset fetched without its hash) is revalidated on every use (ETag -> 304).
REVALIDATE = "no-cache"
#: Path segments of plain characters: no dot segments (also none spelled %2e), quotes or markup.
_PREFIX = re.compile(r"^(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$")


def _clean_prefix(value: str) -> str:
    """A path prefix safe for ``<base href>``: absolute, same-origin, no dot segments; else ''."""
    value = value.strip().rstrip("/")
    return value if _PREFIX.fullmatch(value) else ""


def public_base(request: Request, api_gateway_base_path: str) -> str:
    """The URL path (ending in '/') under which clients reach this app's root."""
    scope = request.scope
    parts = [_clean_prefix(request.headers.get("x-forwarded-prefix", ""))]
    if "aws.event" in scope:  # Mangum strips API_GATEWAY_BASE_PATH before routing
        base_path = _clean_prefix(api_gateway_base_path)
        if base_path and not parts[0].endswith(base_path):
            parts.append(base_path)
    parts.append(_clean_prefix(str(scope.get("root_path", ""))))
    return "".join(parts) + "/"


def _not_modified(request: Request, etag: str) -> bool:
    candidates = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    return etag in candidates or "*" in candidates


def _respond(request: Request, body: bytes, media_type: str, etag: str, cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": cache_control}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/")
async def search_page(request: Request, settings: SettingsDep) -> Response:
    """The search page (HTML)."""
    body = render_page(public_base(request, settings.api_gateway_base_path))
    response = _respond(request, body, "text/html; charset=utf-8", f'"{digest(body)}"', REVALIDATE)
    response.headers["Vary"] = "X-Forwarded-Prefix"
    return response


@router.get("/static/{name}")
async def static_file(name: str, request: Request) -> Response:
    """One of the page's own files; the ``v`` query parameter is its content hash."""
    found: Asset | None = asset(name)
    if found is None:
        raise NotFoundError(f"no static file {name!r}")
    cache_control = IMMUTABLE if request.query_params.get("v") == found.version else REVALIDATE
    return _respond(request, found.body, found.media_type, found.etag, cache_control)
