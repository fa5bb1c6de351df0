"""Outcome auditing: the signals raised on cases, the regions' thresholds, complaint facts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base, sql_values
from servicekit.db import new_id, utcnow


class SignalKind(StrEnum):
    LOW_SETTLEMENT = "low_settlement"
    FULFILMENT_OVERDUE = "fulfilment_overdue"
    FULFILMENT_DISPUTED = "fulfilment_disputed"
    REFILED_AFTER_CLOSE = "refiled_after_close"
    WITHDRAWN_AFTER_CONTACT = "withdrawn_after_contact"
    ENTERPRISE_OUTLIER = "enterprise_outlier"
    MEDIATOR_OUTLIER = "mediator_outlier"



class OutcomeSignal(Base):
    """A reason to look at a case, raised by the flow or job that saw it; at most one per case and kind."""

    __tablename__ = "outcome_signal"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(SignalKind)})", name="kind"),
        UniqueConstraint("case_id", "kind", name="uq_outcome_signal_case_id_kind"),
        # Rate-based signals name an enterprise or mediator: once per subject, region and month.
        Index("uq_outcome_signal_subject_period", "kind", "region_code", "subject_id", "period", unique=True,
              postgresql_where=text("period IS NOT NULL")),
        Index("ix_outcome_signal_region_code_id", "region_code", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"))
    kind: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6))
    merchant_id: Mapped[uuid.UUID | None]
    subject_id: Mapped[str | None] = mapped_column(String(200))
    period: Mapped[str | None] = mapped_column(String(7))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    review_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audit_review.id"), index=True)


class AuditThreshold(Base):
    """A region's own thresholds; a null column inherits from the nearest ancestor that sets it, then the default."""

    __tablename__ = "audit_threshold"
    __table_args__ = (
        CheckConstraint("low_settlement_bp IS NULL OR low_settlement_bp BETWEEN 1 AND 10000", name="low_settlement_bp"),
        CheckConstraint("refile_days IS NULL OR refile_days BETWEEN 1 AND 3650", name="refile_days"),
        CheckConstraint("withdrawal_days IS NULL OR withdrawal_days BETWEEN 1 AND 3650", name="withdrawal_days"),
        CheckConstraint("fulfilment_overdue_days IS NULL OR fulfilment_overdue_days BETWEEN 1 AND 3650",
                        name="fulfilment_overdue_days"),
        CheckConstraint("outlier_min_cases IS NULL OR outlier_min_cases >= 2", name="outlier_min_cases"),
        CheckConstraint("outlier_z IS NULL OR outlier_z > 0", name="outlier_z"),
        CheckConstraint("outlier_window_days IS NULL OR outlier_window_days BETWEEN 1 AND 3650",
                        name="outlier_window_days"),
    )

    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    # Basis points of the requested amount (1000 = 10 %): integer, so 10.0 % and 10.1 % never round together.
    low_settlement_bp: Mapped[int | None] = mapped_column(Integer)
    refile_days: Mapped[int | None] = mapped_column(Integer)
    withdrawal_days: Mapped[int | None] = mapped_column(Integer)
    fulfilment_overdue_days: Mapped[int | None] = mapped_column(Integer)
    outlier_min_cases: Mapped[int | None] = mapped_column(Integer)
    outlier_z: Mapped[float | None] = mapped_column(Float)
    outlier_window_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(200))


class ComplaintProfile(Base):
    """What the complaints service tells about a complaint beyond its routing: sector, filing time, the rating."""

    __tablename__ = "complaint_profile"
    __table_args__ = (CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),)

    complaint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sector: Mapped[str | None] = mapped_column(String(64))
    filed_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None]
    # What the consumer asked for, so an outcome that never became a mediation case (a station's) shows it too.
    request_type: Mapped[str | None] = mapped_column(String(32))
    request_amount_fen: Mapped[int | None] = mapped_column(BigInteger)


class StationSettlement(Base):
    """A complaint a consumer-rights service station settled on the spot (complaints' `closed.v1` naming the
    station): an outcome with no mediation case behind it, listed among the outcome records as the station's."""

    __tablename__ = "station_settlement"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        # The outcome list of a region, newest first, like the cases' own index.
        Index("ix_station_settlement_region_code_complaint_id", "region_code", "complaint_id"),
    )

    complaint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    merchant_id: Mapped[uuid.UUID | None]
    station_id: Mapped[uuid.UUID]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    settled_at: Mapped[datetime]
