"""The mediation case and its append-only event trail."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mediation.cases.state import CaseStatus, Stage
from mediation.database import Base
from servicekit.db import new_id, utcnow

STATUS_VALUES = ", ".join(f"'{status.value}'" for status in CaseStatus)
STAGE_VALUES = ", ".join(f"'{stage.value}'" for stage in Stage)


class MediationCase(Base):
    """One dispute between a consumer and a merchant, from negotiation to its outcome; one per complaint."""

    __tablename__ = "mediation_case"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),
        CheckConstraint("request_amount_fen IS NULL OR request_amount_fen >= 0", name="request_amount_fen"),
        CheckConstraint(f"stage IN ({STAGE_VALUES})", name="stage"),
        CheckConstraint("termination_ground IS NULL OR termination_ground BETWEEN 1 AND 8", name="termination_ground"),
        CheckConstraint("paused_days >= 0", name="paused_days"),
        # Serves the enterprise's case list: its cases, newest first.
        Index("ix_mediation_case_merchant_id_id", "merchant_id", "id"),
        # The deadline sweepers read only cases whose clock runs.
        Index("ix_mediation_case_negotiation_due", "due_date", postgresql_where=text("status = 'negotiating'")),
        Index("ix_mediation_case_mediation_due", "mediation_due_date",
              postgresql_where=text("status = 'mediating' AND paused_at IS NULL")),
        # The refiling check on every case opened: the consumer's latest closed case against the enterprise, found
        # without reading the consumer's open ones (the soak's consumers had thousands each, and each opening read
        # them all).
        Index("ix_mediation_case_closed_by_consumer", "consumer_id", "merchant_id", "closed_at",
              postgresql_where=text("closed_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    case_no: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[uuid.UUID | None]
    consumer_id: Mapped[str] = mapped_column(String(200), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(16))
    # AES-GCM ciphertext (servicekit.pii), bound to this row and field.
    complainant_name: Mapped[bytes] = mapped_column(LargeBinary)
    complainant_phone_masked: Mapped[str] = mapped_column(String(32))
    request_type: Mapped[str] = mapped_column(String(32))
    request_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    # AES-GCM ciphertext like the name, bound to "mediation_case:<id>:facts" (facts_context).
    facts_enc: Mapped[bytes] = mapped_column(LargeBinary)
    due_date: Mapped[date | None]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    stage: Mapped[str] = mapped_column(String(16), server_default=Stage.NEGOTIATION.value)
    failure_reason: Mapped[str | None] = mapped_column(String(32))
    termination_ground: Mapped[int | None] = mapped_column(SmallInteger)
    # Sealed, bound to "mediation_case:<id>:termination_note".
    termination_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Regulator mediation (Order 121 Art. 19-23): its 60-day clock, pauses and mediator.
    accepted_at: Mapped[datetime | None]
    mediation_due_date: Mapped[date | None]
    paused_at: Mapped[datetime | None]
    paused_days: Mapped[int] = mapped_column(Integer, server_default="0")
    mediator_kind: Mapped[str | None] = mapped_column(String(32))
    mediator_id: Mapped[str | None] = mapped_column(String(200))
    mediator_region: Mapped[str | None] = mapped_column(String(6))
    delegated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # What the enterprise needs to answer (from the complaint's routed or accepted event; null on older cases).
    order_no: Mapped[str | None] = mapped_column(String(100))
    purchase_date: Mapped[date | None]
    purchase_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    sector: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(128))
    issue_type: Mapped[str | None] = mapped_column(String(32))
    # The attachments the consumer shared with the enterprise: [{id, filename, media_type, size_bytes, sha256}].
    shared_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    """What happened to a case, who did it and when; the database refuses updates and deletes, except an erasure
    emptying `written_enc` on the consumer's rows (migration 0010)."""

    __tablename__ = "case_event"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    kind: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # What a person wrote (trail.WRITTEN_KEYS), sealed as one JSON document ("case_event:<id>:written").
    written_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


def termination_note_context(case_id: uuid.UUID) -> str:
    """The AES-GCM associated data of a case's termination note."""
    return f"mediation_case:{case_id}:termination_note"


def facts_context(case_id: uuid.UUID) -> str:
    """The AES-GCM associated data of a case's facts."""
    return f"mediation_case:{case_id}:facts"


def complainant_name_context(case_id: uuid.UUID) -> str:
    """The AES-GCM associated data of a case's complainant name: a ciphertext moved to another row fails."""
    return f"mediation_case:{case_id}:complainant_name"
