"""Opaque list cursors: the id of the last item shown, so clients never build them themselves."""

from __future__ import annotations

import base64
import binascii
import uuid

from servicekit.problems import Problem


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
