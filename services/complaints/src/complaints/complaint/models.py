"""Tables of the complaint domain: the complaint, its timeline, its deadlines."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.enums import (
    ActorRole,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    DeadlineState,
    ReportStatus,
    RequestType,
)
from complaints.database import Base


def one_of(column: str, *enums: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that `column` holds one of the enums' values."""
    allowed = ", ".join(f"'{member.value}'" for values in enums for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


class Complaint(Base):
    """One case: a complaint or a report (举报); personal data is stored encrypted (servicekit.pii).

    A report may be anonymous, so its identity columns are empty; a submission of kind `both` becomes two rows
    pointing at each other through `linked_case_id`.
    """

    __tablename__ = "complaint"
    __table_args__ = (
        one_of("kind", ComplaintKind),
        one_of("status", ComplaintStatus, ReportStatus),
        one_of("request_type", RequestType),
        one_of("channel", Channel),
        CheckConstraint("request_amount_fen >= 0", name="request_amount_fen_non_negative"),
        CheckConstraint("purchase_amount_fen >= 0", name="purchase_amount_fen_non_negative"),
        CheckConstraint("recovered_fen >= 0", name="recovered_fen_non_negative"),
        CheckConstraint("refusal_ground BETWEEN 1 AND 7", name="refusal_ground_art_16"),
        CheckConstraint("rating_score BETWEEN 1 AND 5", name="rating_score_range"),
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
    complainant_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    complainant_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    complainant_address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    complainant_id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    address_index: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    # Agent (Art. 11) and the other consumers of a joint complaint (Art. 12), encrypted as one JSON document.
    parties_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    has_agent: Mapped[bool] = mapped_column(server_default="false")
    consumer_count: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    # Consent to disclose the free text publicly (Art. 38 disclosure); without it only coded fields are shown.
    disclosure_consent: Mapped[bool] = mapped_column(server_default="false")
    linked_case_id: Mapped[uuid.UUID | None]
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    respondent_name: Mapped[str] = mapped_column(String(200))
    respondent_address: Mapped[str | None] = mapped_column(String(500))
    respondent_uscc: Mapped[str | None] = mapped_column(String(18))
    respondent_region_code: Mapped[str | None] = mapped_column(String(6))
    online_seller: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_type: Mapped[str] = mapped_column(String(16))
    request_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    facts: Mapped[str] = mapped_column(Text)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    purchase_order_no: Mapped[str | None] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    # The consumer-rights service station (消费维权服务站) whose staff filed the case for a walk-in consumer.
    station_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    mediation_case_id: Mapped[uuid.UUID | None]
    recovered_fen: Mapped[int] = mapped_column(BigInteger, server_default="0")
    filed_at: Mapped[datetime]
    routed_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The regulator's decision: acceptance, refusal or routing of a complaint; opening a case or not for a report.
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
    refusal_ground: Mapped[int | None] = mapped_column(SmallInteger)
    other_routes: Mapped[str | None] = mapped_column(Text)
    case_opened: Mapped[bool | None]
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    rating_text: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
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
    """One statutory clock of a case; `due_at` is the instant it runs out (midnight after `due_date`).

    `extended_days` counts working days added on approval (`extension_approved_by`); a paused clock keeps its
    `due_date` until it resumes, when the working days it stood still are added.
    """

    __tablename__ = "deadline"
    __table_args__ = (
        one_of("kind", DeadlineKind),
        one_of("state", DeadlineState),
        Index("ix_deadline_complaint_id", "complaint_id"),
        # The breach sweeper reads only ticking clocks, oldest due first.
        Index("ix_deadline_ticking_due_at", "due_at", postgresql_where=text("state IN ('running', 'extended')")),
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
    ended_at: Mapped[datetime | None]
    extended_days: Mapped[int] = mapped_column(Integer, server_default="0")
    extension_approved_by: Mapped[str | None] = mapped_column(String(200))
    extension_reason: Mapped[str | None] = mapped_column(Text)


class Evidence(Base):
    """An attachment a consumer uploaded; it belongs to a case once a filing names it in `evidence_ids`."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_bytes_positive"),
        Index("ix_evidence_complaint_id", "complaint_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consumer_id: Mapped[str] = mapped_column(String(200), index=True)
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("complaint.id"))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # The consumer chose to show it to the ODR enterprise (which then may download it); else staff only.
    shared_with_merchant: Mapped[bool] = mapped_column(Boolean, server_default="false")


class PiiAccess(Base):
    """Who among staff saw a case's personal data in full, and when (architecture §6: every such read is logged)."""

    __tablename__ = "pii_access"
    __table_args__ = (Index("ix_pii_access_complaint_id_at", "complaint_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaint.id"))
    actor_sub: Mapped[str] = mapped_column(String(200))
    actor_region: Mapped[str | None] = mapped_column(String(6))
    at: Mapped[datetime]
