"""Cursor pagination: opaque cursors (the id of the last item shown, so clients never build them) and page sizes."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from servicekit.problems import Problem

Row = TypeVar("Row")

# The `limit` query parameter of most lists; a list whose pages are bounded otherwise declares its own Query.
PageSize = Annotated[int, Query(ge=1, le=100)]


def encode_cursor(last_id: uuid.UUID) -> str:
    """The cursor that continues after `last_id`."""
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    """The id in a cursor this service issued, or a 422 problem naming the `cursor` parameter."""
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise Problem("validation-error", errors=[
            {"field": "query.cursor", "message": "Not a cursor this service issued", "code": "cursor_invalid"}
        ]) from exc


def page_of(rows: Sequence[Row], limit: int, last_id: Callable[[Row], uuid.UUID]) -> tuple[Sequence[Row], str | None]:
    """The page out of `limit + 1` fetched rows, and the cursor to the next one (None when this is the last)."""
    page = rows[:limit]
    return page, encode_cursor(last_id(page[-1])) if len(rows) > limit else None
