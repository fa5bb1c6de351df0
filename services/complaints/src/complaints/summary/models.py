"""The audit figures the period report carries, kept from mediation's `reviewed` events (one row per review)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base


class AuditReviewFact(Base):
    """A regulator's review of a case's outcome, as `mediation.case.reviewed.v1` told it; keyed by the review, so a
    redelivered event finds its row and adds nothing."""

    __tablename__ = "audit_review_fact"
    __table_args__ = (Index("ix_audit_review_fact_region_code_reviewed_on", "region_code", "reviewed_on"),)

    review_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID]
    complaint_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID | None]
    region_code: Mapped[str] = mapped_column(String(6))
    reviewed_at: Mapped[datetime]
    # The local day (Asia/Shanghai) of the review, the report's period unit.
    reviewed_on: Mapped[date]
    outcome: Mapped[str] = mapped_column(String(40))
    finding: Mapped[bool]
    sampled: Mapped[bool]
