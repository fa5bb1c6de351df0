"""Tables of the complaint domain: the complaint, its timeline, its deadlines."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.state import (
    ActorRole,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    DeadlineState,
    RequestType,
)
from complaints.database import Base


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that `column` holds one of the enum's values."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


class Complaint(Base):
    """One complaint; personal data of the complainant is stored encrypted (servicekit.pii)."""

    __tablename__ = "complaint"
    __table_args__ = (
        one_of("kind", ComplaintKind),
        one_of("status", ComplaintStatus),
        one_of("request_type", RequestType),
        one_of("channel", Channel),
        CheckConstraint("request_amount_fen >= 0", name="request_amount_fen_non_negative"),
        CheckConstraint("purchase_amount_fen >= 0", name="purchase_amount_fen_non_negative"),
        CheckConstraint("recovered_fen >= 0", name="recovered_fen_non_negative"),
        Index("ix_complaint_consumer_id_id", "consumer_id", text("id DESC")),
        # Regulators list by region prefix (LIKE '6328%'), which a default-collation btree cannot serve.
        Index("ix_complaint_region_code_id", "region_code", text("id DESC"),
              postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6))
    consumer_id: Mapped[str] = mapped_column(String(200))
    green_channel: Mapped[bool]
    complainant_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    complainant_phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    complainant_address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    respondent_name: Mapped[str] = mapped_column(String(200))
    respondent_address: Mapped[str | None] = mapped_column(String(500))
    respondent_uscc: Mapped[str | None] = mapped_column(String(18))
    respondent_region_code: Mapped[str | None] = mapped_column(String(6))
    request_type: Mapped[str] = mapped_column(String(16))
    request_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    facts: Mapped[str] = mapped_column(Text)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    purchase_order_no: Mapped[str | None] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    mediation_case_id: Mapped[uuid.UUID | None]
    recovered_fen: Mapped[int] = mapped_column(BigInteger, server_default="0")
    filed_at: Mapped[datetime]
    routed_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class ComplaintEvent(Base):
    """Append-only timeline and audit trail of a complaint: what happened, when, by whom."""

    __tablename__ = "complaint_event"
    __table_args__ = (
        one_of("actor_role", ActorRole),
        Index("ix_complaint_event_complaint_id_at", "complaint_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaint.id"))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Deadline(Base):
    """One statutory clock of a complaint; `due_at` is the instant it runs out (midnight after `due_date`)."""

    __tablename__ = "deadline"
    __table_args__ = (
        one_of("kind", DeadlineKind),
        one_of("state", DeadlineState),
        Index("ix_deadline_complaint_id", "complaint_id"),
        # The breach sweeper reads only running clocks, oldest due first.
        Index("ix_deadline_running_due_at", "due_at", postgresql_where=text("state = 'running'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaint.id"))
    kind: Mapped[str] = mapped_column(String(32))
    due_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
