"""Tables of the complaint domain: the complaint and its timeline (who saw its personal data: access/models.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.enums import (
    ActorRole,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    IdDocument,
    IssueType,
    ReportStatus,
    RequestType,
)
from complaints.database import Base, case_reference, one_of


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
        one_of("issue_type", IssueType),
        one_of("identity_document", IdDocument),
        CheckConstraint("request_amount_fen >= 0", name="request_amount_fen_non_negative"),
        CheckConstraint("purchase_amount_fen >= 0", name="purchase_amount_fen_non_negative"),
        CheckConstraint("recovered_fen >= 0", name="recovered_fen_non_negative"),
        CheckConstraint("refusal_ground BETWEEN 1 AND 7", name="refusal_ground_art_16"),
        CheckConstraint("rating_score BETWEEN 1 AND 5", name="rating_score_range"),
        Index("ix_complaint_consumer_id_id", "consumer_id", text("id DESC")),
        # Regulators list by region prefix (LIKE '6328%'), which a default-collation btree cannot serve.
        Index("ix_complaint_region_code_id", "region_code", text("id DESC"),
              postgresql_ops={"region_code": "varchar_pattern_ops"}),
        # The regulator's queue, by the due date of the current stage's clock (migration 0010, design-notes.md).
        Index("ix_complaint_queue_region", "region_code", "queue_due_at", "id",
              postgresql_ops={"region_code": "varchar_pattern_ops"},
              postgresql_where=text("queue_due_at IS NOT NULL")),
        Index("ix_complaint_queue_due", "queue_due_at", "id", postgresql_where=text("queue_due_at IS NOT NULL")),
        Index("uq_complaint_source_ticket", "source_ticket", unique=True,
              postgresql_where=text("source_ticket IS NOT NULL")),
        # Only ever compared with a value, so the cases against no enrolled enterprise, or filed by no station, have
        # no entry (migration 0022).
        Index("ix_complaint_merchant_id", "merchant_id", postgresql_where=text("merchant_id IS NOT NULL")),
        Index("ix_complaint_station_id", "station_id", postgresql_where=text("station_id IS NOT NULL")),
        # The retention job's scan for closed cases whose personal data is still kept (migration 0018).
        Index("ix_complaint_erasable", "closed_at",
              postgresql_where=text("closed_at IS NOT NULL AND personal_data_erased_at IS NULL")),
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
    merchant_id: Mapped[uuid.UUID | None]
    respondent_name: Mapped[str] = mapped_column(String(200))
    respondent_address: Mapped[str | None] = mapped_column(String(500))
    respondent_uscc: Mapped[str | None] = mapped_column(String(18))
    respondent_region_code: Mapped[str | None] = mapped_column(String(6))
    online_seller: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_type: Mapped[str] = mapped_column(String(16))
    request_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    # The consumer's account, sealed like the complainant's fields ("complaint:<id>:facts").
    facts_enc: Mapped[bytes] = mapped_column(LargeBinary)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    purchase_order_no: Mapped[str | None] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(128))
    issue_type: Mapped[str] = mapped_column(String(32), server_default="other")
    channel: Mapped[str] = mapped_column(String(32))
    # The consumer-rights service station (消费维权服务站) whose staff filed the case for a walk-in consumer.
    station_id: Mapped[uuid.UUID | None]
    # A walk-in's identity checked on the spot: which document the staff saw (its number is the sealed
    # complainant_id_number_enc), when and by whom. Empty for cases filed any other way.
    identity_document: Mapped[str | None] = mapped_column(String(32))
    identity_checked_at: Mapped[datetime | None]
    identity_checked_by: Mapped[str | None] = mapped_column(String(200))
    # When the station settled the case itself (at filing or later), as opposed to a settlement reached in
    # negotiation or mediation: what the station's figures count as settled on the spot.
    station_settled_at: Mapped[datetime | None]
    # The ticket number of a case transferred in bulk from the national 12315 platform or the 12345 hotline,
    # "<source>:<ticket>": unique, so a re-import files nothing twice.
    source_ticket: Mapped[str | None] = mapped_column(String(80))
    mediation_case_id: Mapped[uuid.UUID | None]
    recovered_fen: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The region a transferred case came from (Art. 13, 41), and the due instant of the clock of its current stage,
    # kept by triggers (migration 0010): what the regulator's queue filters and sorts by.
    transferred_from: Mapped[str | None] = mapped_column(String(6))
    queue_due_at: Mapped[datetime | None]
    filed_at: Mapped[datetime]
    routed_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The regulator's decision: acceptance, refusal or routing of a complaint; opening a case or not for a report.
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    # Sealed (`pii_context`): the refusal note or the report decision's reason, as the regulator wrote it.
    decision_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refusal_ground: Mapped[int | None] = mapped_column(SmallInteger)
    other_routes: Mapped[str | None] = mapped_column(Text)
    case_opened: Mapped[bool | None]
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    # The consumer's own words on the handling, encrypted (`pii_context`).
    rating_text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    rated_at: Mapped[datetime | None]
    # Set when the personal data was erased after the retention period (personal_data/service.py): the parties,
    # the facts, the order number, the rating text and the evidence are gone; every coded column stays.
    personal_data_erased_at: Mapped[datetime | None]
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
    complaint_id: Mapped[uuid.UUID] = mapped_column(case_reference())
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    # Sealed, bound to "complaint_event:<id>:<field>" (state.timeline_row): the note quotes what staff wrote, and
    # `written_enc` holds the details a person wrote (state.WRITTEN_PARAMS) as one JSON document.
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    written_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


# The complainant's fields, kept as `complainant_<field>_enc`; other encrypted fields are `<field>_enc`.
COMPLAINANT_FIELDS = ("name", "phone", "address", "id_number")


def pii_context(complaint_id: uuid.UUID, field: str) -> str:
    """The AES-GCM associated data of a complaint's encrypted field: a ciphertext moved to another row or field
    fails."""
    return f"complaint:{complaint_id}:{field}"
