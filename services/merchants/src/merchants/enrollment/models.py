"""ODR enrollment of a merchant and its append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from merchants.enrollment.state import EnrollmentStatus
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher

STATUS_VALUES = ", ".join(f"'{status.value}'" for status in EnrollmentStatus)


class Enrollment(Base):
    """A merchant's ODR status; one per merchant, moved only through `enrollment.state`."""

    __tablename__ = "enrollment"
    __table_args__ = (CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    approved_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class EnrollmentEvent(Base):
    """Who moved an enrollment, when, and why; rows are only ever inserted."""

    __tablename__ = "enrollment_event"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(200))
    # Why, sealed ("enrollment_event:<id>:reason"): a regulator's reason may name the people it concerns.
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


def _reason_context(event_id: uuid.UUID) -> str:
    return f"enrollment_event:{event_id}:reason"


def sealed_reason(cipher: PiiCipher, event_id: uuid.UUID, reason: str | None) -> bytes | None:
    return cipher.encrypt(reason, context=_reason_context(event_id)) if reason is not None else None


def opened_reason(cipher: PiiCipher, event: EnrollmentEvent) -> str | None:
    return cipher.decrypt(event.reason_enc, context=_reason_context(event.id)) if event.reason_enc is not None else None
