"""Validation of metadata filters (a documented subset of Chroma's ``where`` grammar).

Checked before any store call so a bad filter is a clear 400 naming the problem, not an engine
error or a 500, and so filter depth and size are bounded.

Grammar::

    filter   := {field: value} | {field: {op: value}} | {"$and": [filter, ...]} | {"$or": [filter, ...]}
    op       := $eq $ne $gt $gte $lt $lte $in $nin
    value    := str | int | float | bool          ($in/$nin take a non-empty list of them)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledgebeast.errors import InvalidFilterError

COMPARISON_OPS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
LIST_OPS = frozenset({"$in", "$nin"})
LOGICAL_OPS = frozenset({"$and", "$or"})
MAX_LIST_ITEMS = 100
#: Leaf comparisons in one filter. Chroma turns $and/$or lists into a nested SQL expression and fails
#: with an internal error ("Expression tree is too large") somewhere below 1000 of them.
MAX_CLAUSES = 100


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def validate_filter(where: Mapping[str, Any] | None, *, max_depth: int = 5) -> dict[str, Any] | None:
    """Return a Chroma-ready ``where`` dict or raise :class:`InvalidFilterError`.

    Several top-level fields are combined with ``$and`` (Chroma accepts one key per dict).
    """
    if where is None or where == {}:
        return None
    if not isinstance(where, Mapping):
        raise InvalidFilterError("filters must be a JSON object")
    normalized = _normalize(where, depth=1, max_depth=max_depth)
    if _count_clauses(normalized) > MAX_CLAUSES:
        raise InvalidFilterError(f"filters may hold at most {MAX_CLAUSES} conditions")
    return normalized


def _count_clauses(node: Mapping[str, Any]) -> int:
    ((key, value),) = node.items()
    if key in LOGICAL_OPS:
        return sum(_count_clauses(item) for item in value)
    return 1


def _normalize(node: Any, *, depth: int, max_depth: int) -> dict[str, Any]:
    if depth > max_depth:
        raise InvalidFilterError(f"filters are nested deeper than {max_depth} levels")
    if not isinstance(node, Mapping) or not node:
        raise InvalidFilterError("each filter must be a non-empty JSON object")
    clauses = [_clause(key, value, depth=depth, max_depth=max_depth) for key, value in node.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _clause(key: str, value: Any, *, depth: int, max_depth: int) -> dict[str, Any]:
    if key in LOGICAL_OPS:
        if not isinstance(value, list) or len(value) < 2:
            raise InvalidFilterError(f"{key} needs a list of at least two filters")
        return {key: [_normalize(item, depth=depth + 1, max_depth=max_depth) for item in value]}
    if key.startswith("#"):  # Chroma's own keys (#document, #id, ...): not metadata, not filterable
        raise InvalidFilterError(f"filter field {key!r} is reserved")
    if key.startswith("$"):
        raise InvalidFilterError(f"unknown filter operator {key!r}", details={"allowed": sorted(LOGICAL_OPS)})
    if _is_scalar(value):
        return {key: {"$eq": value}}
    if isinstance(value, Mapping) and len(value) == 1:
        ((op, operand),) = value.items()
        if op in COMPARISON_OPS:
            if not _is_scalar(operand):
                raise InvalidFilterError(f"{key}: {op} needs a string, number or boolean")
            if op in ("$gt", "$gte", "$lt", "$lte") and (
                isinstance(operand, bool) or not isinstance(operand, int | float)
            ):
                raise InvalidFilterError(f"{key}: {op} needs a number")
            return {key: {op: operand}}
        if op in LIST_OPS:
            if (
                not isinstance(operand, list)
                or not operand
                or len(operand) > MAX_LIST_ITEMS
                or not all(_is_scalar(item) for item in operand)
            ):
                raise InvalidFilterError(f"{key}: {op} needs a list of 1-{MAX_LIST_ITEMS} scalar values")
            if len({type(item) for item in operand}) > 1:  # Chroma: one type per list (int and float differ)
                raise InvalidFilterError(f"{key}: {op} values must all have the same type")
            return {key: {op: operand}}
        raise InvalidFilterError(
            f"unknown filter operator {op!r} on {key!r}",
            details={"allowed": sorted(COMPARISON_OPS | LIST_OPS)},
        )
    raise InvalidFilterError(f"{key}: expected a value or one {{operator: value}} object")
