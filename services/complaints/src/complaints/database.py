"""The service's metadata (every table its migrations create, including the outbox and inbox), the declarative base
and the CHECK constraint the models share."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, DateTime
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import new_metadata
from servicekit.events.tables import inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(DeclarativeBase):
    """Declarative base bound to this service's metadata; datetimes are timezone-aware."""

    metadata = metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


def one_of(column: str, *enums: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that `column` holds one of the enums' values."""
    allowed = ", ".join(f"'{member.value}'" for values in enums for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)
