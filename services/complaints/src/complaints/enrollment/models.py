"""The replica of who is ODR-enrolled, kept from the merchants service's enrollment events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base, one_of


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class EnrolledMerchant(Base):
    """One ODR enterprise as merchants last told us; `updated_at` is the time of the event that set the row."""

    __tablename__ = "enrolled_merchant"
    __table_args__ = (one_of("status", EnrollmentStatus),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    region_code: Mapped[str] = mapped_column(String(6))
    sector: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]
