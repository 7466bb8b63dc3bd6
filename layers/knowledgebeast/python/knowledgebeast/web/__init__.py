"""The search page's files: plain HTML, CSS and JavaScript shipped as package data (no build step).

Files are read once per process and kept in memory with a content hash, which is both their ETag
and the ``?v=`` cache-buster in the page's links: an asset URL never changes meaning, so browsers
may cache it for a year, while the page itself is always revalidated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

PAGE = "index.html"
#: Every file served under /static/, with its media type. Anything else is a 404.
ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _read(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


@cache
def asset(name: str) -> Asset | None:
    """One static file, or None for a name that is not in :data:`ASSETS`."""
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    body = _read(name)
    return Asset(name=name, body=body, media_type=media_type, version=digest(body))


@cache
def _page_template() -> Template:
    return Template(_read(PAGE).decode("utf-8"))


def _version(name: str) -> str:
    found = asset(name)
    assert found is not None, name
    return found.version


def render_page(base: str) -> bytes:
    """index.html with its ``<base href>`` and the assets' version hashes (``${app_js}``...) filled in."""
    versions = {name.replace(".", "_"): _version(name) for name in ASSETS}
    return _page_template().substitute(base=base, **versions).encode("utf-8")
