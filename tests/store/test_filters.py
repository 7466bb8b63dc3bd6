"""Filter validation: the documented subset is accepted and normalised; anything else is a 400."""

from __future__ import annotations

import pytest

from knowledgebeast.errors import InvalidFilterError
from knowledgebeast.store.filters import validate_filter


def test_scalars_become_eq_and_multiple_keys_become_and() -> None:
    assert validate_filter({"team": "a"}) == {"team": {"$eq": "a"}}
    assert validate_filter({"team": "a", "year": {"$gte": 2020}}) == {
        "$and": [{"team": {"$eq": "a"}}, {"year": {"$gte": 2020}}]
    }
    assert validate_filter(None) is None and validate_filter({}) is None


def test_in_and_or() -> None:
    where = {"$or": [{"team": {"$in": ["a", "b"]}}, {"page": {"$lt": 3}}]}
    assert validate_filter(where) == where


@pytest.mark.parametrize(
    "bad",
    [
        {"team": {"$regex": "a"}},
        {"$nor": [{"a": 1}, {"b": 2}]},
        {"year": {"$gt": "2020"}},
        {"team": {"$in": []}},
        {"team": {"$in": [{"x": 1}]}},
        {"team": ["a"]},
        {"$and": [{"a": 1}]},
        {"team": {"$eq": "a", "$ne": "b"}},
    ],
)
def test_invalid_filters_are_rejected(bad: dict) -> None:
    with pytest.raises(InvalidFilterError):
        validate_filter(bad)


def test_depth_is_bounded() -> None:
    where: dict = {"a": 1}
    for _ in range(6):
        where = {"$and": [where, {"b": 2}]}
    with pytest.raises(InvalidFilterError, match="nested deeper"):
        validate_filter(where, max_depth=5)
