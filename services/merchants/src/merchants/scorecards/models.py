"""Scorecard facts: one row per complaint routed to an enterprise, filled in as its events arrive; and flags."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class CaseFacts(Base):
    """What the scorecard needs of one complaint; columns are set by whichever event carries them, in any order."""

    __tablename__ = "scorecard_case"
    __table_args__ = (Index("ix_scorecard_case_merchant_received", "merchant_id", "received_at"),)

    complaint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"))
    received_at: Mapped[datetime | None]
    deadline_breached_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_status: Mapped[str | None] = mapped_column(String(32))
    fulfilment_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    # Regulator reviews of the case's outcome (mediation.case.reviewed.v1) and how many of them found something.
    reviews: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    review_findings: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class OrderVolume(Base):
    """Orders the enterprise reports for a calendar month, so complaints can be put per 1,000 orders."""

    __tablename__ = "order_volume"
    __table_args__ = (CheckConstraint("orders >= 0", name="orders"),
                      CheckConstraint("extract(day from month) = 1", name="first_of_month"))

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class FlagLevel(StrEnum):
    WARNING = "warning"
    SUSPENSION_PROPOSED = "suspension_proposed"


class FlagResolution(StrEnum):
    RECOVERED = "recovered"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


LEVEL_VALUES = ", ".join(f"'{level.value}'" for level in FlagLevel)
RESOLUTION_VALUES = ", ".join(f"'{resolution.value}'" for resolution in FlagResolution)


class ScorecardFlag(Base):
    """A warning, or a suspension proposal a regulator must confirm or dismiss; at most one open of each level."""

    __tablename__ = "scorecard_flag"
    __table_args__ = (
        CheckConstraint(f"level IN ({LEVEL_VALUES})", name="level"),
        CheckConstraint(f"resolution IS NULL OR resolution IN ({RESOLUTION_VALUES})", name="resolution"),
        Index("uq_scorecard_flag_open", "merchant_id", "level", unique=True,
              postgresql_where=text("resolved_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), index=True)
    level: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSONB)
    scorecard: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    # The regulator's reason, sealed ("scorecard_flag:<id>:resolution_note").
    resolution_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
