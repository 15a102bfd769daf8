"""Cursor pagination as the API's list endpoints do it (`limit`, `after_id`, `before_id`)."""

from collections.abc import Callable, Sequence
from typing import Any

from mockclaude.wire.errors import ApiError

DEFAULT_LIMIT = 20
# [SDK] models.list and messages.batches.list docstrings: "Defaults to `20`. Ranges from `1` to `1000`."
MAX_LIMIT = 1000


def parse_limit(limit: int | str | None) -> int:
    """The page size from the `limit` query parameter, with pydantic's messages when it is bad."""
    if limit is None:
        return DEFAULT_LIMIT
    try:
        value = int(limit)
    except (TypeError, ValueError):
        message = "Input should be a valid integer, unable to parse string as an integer"
        raise ApiError(400, f"limit: {message}") from None
    if value < 1:
        raise ApiError(400, "limit: Input should be greater than or equal to 1")
    if value > MAX_LIMIT:
        raise ApiError(400, f"limit: Input should be less than or equal to {MAX_LIMIT}")
    return value


def page[T](
    items: Sequence[T],
    item_id: Callable[[T], str],
    to_json: Callable[[T], dict[str, Any]],
    *,
    limit: int | str | None,
    after_id: str | None,
    before_id: str | None,
    noun: str,
) -> dict[str, Any]:
    """One page `{data, first_id, last_id, has_more}` of `items` (already in list order)."""
    size = parse_limit(limit)
    if after_id is not None and before_id is not None:
        raise ApiError(400, "after_id and before_id cannot both be provided")

    def cursor(name: str, param: str) -> int:
        for i, item in enumerate(items):
            if item_id(item) == name:
                return i
        raise ApiError(400, f"{param}: invalid cursor {name!r}: no {noun} with this id in the list")

    if before_id is not None:
        end = cursor(before_id, "before_id")
        start = max(0, end - size)
        chosen = items[start:end]
        has_more = start > 0
    else:
        start = cursor(after_id, "after_id") + 1 if after_id is not None else 0
        chosen = items[start : start + size]
        has_more = start + size < len(items)
    return {
        "data": [to_json(item) for item in chosen],
        "first_id": item_id(chosen[0]) if chosen else None,
        "last_id": item_id(chosen[-1]) if chosen else None,
        "has_more": has_more,
    }
