"""Strict JSON for every route: the body must be RFC 8259 JSON, not merely what ``json.loads`` takes.

Python's parser accepts ``NaN``, ``Infinity``, numbers that overflow to infinity (``1e400``) and
``\\ud800`` escapes that decode to lone surrogates. None of that is JSON, none of it can be stored
or compared by the vector store, and in a filter or a metadata key (plain ``Any``/``dict`` values,
which pydantic's ``str`` checks never see) each surfaced as a 500 from deep inside Chroma. Parsing
strictly at the boundary turns all of them into the ordinary ``400 malformed_json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _reject(message: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, "", 0)


def _no_constant(name: str) -> Any:
    raise _reject(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _reject(f"number {text[:40]} is out of range")
    return value


def _check_strings(value: Any) -> None:
    """Every key and string must be encodable as UTF-8 (no lone surrogates). Iterative: no recursion limit."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise _reject("string contains a lone surrogate (\\ud800-\\udfff escape)") from None
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def strict_json_loads(data: bytes | str) -> Any:
    """``json.loads`` that raises ``JSONDecodeError`` for anything that is not strict JSON."""
    value = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    _check_strings(value)
    return value


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute whose request body is parsed by :func:`strict_json_loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_handler
