"""Summons (约谈): a regulator's recorded meeting with an enterprise about its complaints; rows are only inserted."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class Summons(Base):
    """One meeting: when, who attended, what was found and what the enterprise undertook, and who recorded it."""

    __tablename__ = "summons"
    __table_args__ = (
        # Listed per enterprise (its scorecard) and per region (the regulators of it and above), newest first.
        Index("ix_summons_merchant_id_held_on", "merchant_id", "held_on"),
        Index("ix_summons_region_code", "region_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"))
    # The enterprise's region when the meeting was recorded: who may list it.
    region_code: Mapped[str] = mapped_column(String(6))
    held_on: Mapped[date]
    # [{"name", "organisation", "title"}], regulator's and enterprise's people alike: JSON, encrypted with the
    # service's PII key (`attendees_context`), since it names people.
    attendees_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # What the regulator wrote, sealed the same way ("summons:<id>:findings"; the undertakings as one JSON list,
    # "summons:<id>:undertakings"): it can name the people met and the consumers' cases.
    findings_enc: Mapped[bytes] = mapped_column(LargeBinary)
    undertakings_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The complaints it was about (case numbers TS-...), when the regulator names them.
    case_nos: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_region: Mapped[str] = mapped_column(String(6))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


def attendees_context(summons_id: uuid.UUID) -> str:
    """The AES-GCM associated data of a summons' attendee list."""
    return f"summons:{summons_id}:attendees"


def summons_context(summons_id: uuid.UUID, field: str) -> str:
    """The AES-GCM associated data of a summons' other sealed fields (findings, undertakings)."""
    return f"summons:{summons_id}:{field}"
