"""The merchants database: one metadata for the ORM models, the outbox and the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import new_metadata
from servicekit.events.tables import inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(DeclarativeBase):
    """Declarative base bound to the merchants metadata; datetimes are tz-aware."""

    metadata = metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}
