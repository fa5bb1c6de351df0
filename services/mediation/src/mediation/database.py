"""The mediation database: one metadata for the ORM models, the outbox and the inbox."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import TimezoneAware, new_metadata
from servicekit.events.tables import inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(TimezoneAware, DeclarativeBase):
    """Declarative base bound to this service's metadata; datetimes are timezone-aware."""

    metadata = metadata
