"""Tables of the consultation track: the consultation (with its one clock) and its timeline."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.enums import ActorRole, Channel
from complaints.database import Base, case_reference, one_of


class ConsultationStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class ClockState(StrEnum):
    """The answer clock: `met` when answered by the end of its due date, `breached` once it ran out unanswered (an
    answer after that is recorded, and the clock stays breached)."""

    RUNNING = "running"
    MET = "met"
    BREACHED = "breached"


class Consultation(Base):
    """One question to the bureau. A consumer asks in the app; a hotline operator or station staff ask for a caller
    or walk-in, whose name and phone are kept encrypted (the consultation belongs to that phone's consumer subject).
    `complaint_id` names the complaint the consumer filed from it."""

    __tablename__ = "consultation"
    __table_args__ = (
        one_of("status", ConsultationStatus),
        one_of("channel", Channel),
        one_of("filed_by_role", ActorRole),
        one_of("clock_state", ClockState),
        Index("ix_consultation_consumer_id_id", "consumer_id", text("id DESC")),
        Index("ix_consultation_region_code_id", "region_code", text("id DESC"),
              postgresql_ops={"region_code": "varchar_pattern_ops"}),
        Index("ix_consultation_running_due_at", "due_at", postgresql_where=text("clock_state = 'running'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    consumer_id: Mapped[str] = mapped_column(String(200))
    asker_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    asker_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The question and its answer are kept encrypted like the asker (`service._pii_context`): a question often
    # tells who is asking and where they live.
    question_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sector: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[uuid.UUID | None]
    filed_by_role: Mapped[str] = mapped_column(String(16))
    filed_by: Mapped[str | None] = mapped_column(String(200))
    filed_at: Mapped[datetime]
    due_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime]
    clock_state: Mapped[str] = mapped_column(String(16))
    breached_at: Mapped[datetime | None]
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(case_reference(), unique=True)
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class ConsultationEvent(Base):
    """Append-only timeline of a consultation: asked, answered, clock ran out, filed as a complaint."""

    __tablename__ = "consultation_event"
    __table_args__ = (
        one_of("actor_role", ActorRole),
        Index("ix_consultation_event_consultation_id_at", "consultation_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation.id"))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
