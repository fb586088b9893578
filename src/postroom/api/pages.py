"""Paginated lists: every list answers {items, limit, offset, next_offset}."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path, Query

Limit = Annotated[int, Query(ge=1, le=500, description="How many items, at most")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many items to skip")]


def page(items: Sequence[Any], limit: int, offset: int, *, fetched_extra: bool) -> dict[str, Any]:
    """With fetched_extra the caller asked the service for limit + 1 rows from offset, so one
    more than the limit means there is a next page; otherwise `items` is the whole list."""
    window = list(items[:limit]) if fetched_extra else list(items[offset : offset + limit])
    more = len(items) > limit if fetched_extra else len(items) > offset + limit
    return {
        "items": window,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


Id = Annotated[int, Path(ge=1, le=2**31 - 1, description="a row's number")]
