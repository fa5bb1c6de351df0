"""Table of the deadline domain: the statutory clocks of a case."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base, case_reference, one_of
from complaints.deadline.enums import DeadlineKind, DeadlineState


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
    complaint_id: Mapped[uuid.UUID] = mapped_column(case_reference())
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
    # Sealed, bound to "deadline:<id>:extension_reason".
    extension_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
