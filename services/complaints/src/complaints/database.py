"""The service's metadata (every table its migrations create, including the outbox and inbox), the declarative base
and the constraints the models share."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import TimezoneAware, new_metadata
from servicekit.events.tables import inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(TimezoneAware, DeclarativeBase):
    """Declarative base bound to this service's metadata; datetimes are timezone-aware."""

    metadata = metadata


def one_of(column: str, *enums: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that `column` holds one of the enums' values."""
    return value_check(column, [member.value for values in enums for member in values], name=name or column)


def value_check(column: str, values: Iterable[str], *, name: str) -> CheckConstraint:
    """CHECK that `column` holds one of `values` (plain words: no commas, quotes or braces), as a comparison with
    one array constant: PostgreSQL re-reads and re-plans a table's checks in every statement that writes it, and an
    IN list costs it a node per value (migration 0023)."""
    return CheckConstraint(f"{column}::text = ANY ('{{{','.join(values)}}}'::text[])", name=name)


def case_reference(**options: Any) -> ForeignKey:
    """A foreign key to the case (complaint.id), checked at commit: a filing writes the rows that point at its case
    before the case row itself or in the same statement
    (see `complaint.case_numbers.write_filing`)."""
    return ForeignKey("complaint.id", deferrable=True, initially="DEFERRED", **options)
