"""The settlement agreement an accepted offer becomes: the case's outcome, and what fulfilment is measured against."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base, sql_values
from servicekit.db import new_id, utcnow


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    RECORDED = "recorded"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"



class SettlementAgreement(Base):
    """What both parties consented to, when, and the SHA-256 of its canonical JSON (the case's outcome)."""

    __tablename__ = "settlement_agreement"
    __table_args__ = (
        CheckConstraint(f"fulfilment_status IN ({sql_values(FulfilmentStatus)})", name="fulfilment_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), unique=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offer.id"), unique=True)
    stage: Mapped[str] = mapped_column(String(16))
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fulfil_by: Mapped[date | None]
    consumer_consent_at: Mapped[datetime]
    consumer_consent_by: Mapped[str] = mapped_column(String(200))
    enterprise_consent_at: Mapped[datetime]
    enterprise_consent_by: Mapped[str] = mapped_column(String(200))
    # Regulator mediation writes the agreement up as a mediation document (调解书, Art. 24); its number is kept here.
    document_no: Mapped[str | None] = mapped_column(String(64))
    mediator_id: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    fulfilment_status: Mapped[str] = mapped_column(String(16), server_default=FulfilmentStatus.PENDING.value)
    # The fulfilment sweeper's marks: a reminder to the consumer, then a flag for the regulator.
    reminder_at: Mapped[datetime | None]
    regulator_flagged_at: Mapped[datetime | None]
