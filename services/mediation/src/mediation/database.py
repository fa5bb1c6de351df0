"""The mediation database: one metadata for the ORM models, the outbox and the inbox."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import TimezoneAware, new_metadata
from servicekit.events.tables import inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(TimezoneAware, DeclarativeBase):
    """Declarative base bound to this service's metadata; datetimes are timezone-aware."""

    metadata = metadata


def sql_values(enum: type[StrEnum]) -> str:
    """The enum's values as an SQL list for a CHECK constraint: 'a', 'b'."""
    return ", ".join(f"'{member.value}'" for member in enum)
