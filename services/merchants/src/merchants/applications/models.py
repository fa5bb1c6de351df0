"""ODR applications: the dossier an enterprise submits, and the regulator's decision on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


STATUS_VALUES = ", ".join(f"'{status.value}'" for status in ApplicationStatus)


class OdrApplication(Base):
    """One submission; the merchant's enrollment carries the lasting ODR status, this row the dossier."""

    __tablename__ = "odr_application"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),
        CheckConstraint("complaint_staff_count >= 1", name="staff_count"),
        # At most one open application per merchant, whatever races the check before it.
        Index("uq_odr_application_pending_merchant", "merchant_id", unique=True,
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), index=True)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # The applicant's client address and its contact person, and the licence's original file name (which may name
    # a sole proprietor): AES-GCM with the service's PII key, each bound to this row and field (`sealed_context`).
    submitted_from_enc: Mapped[bytes] = mapped_column(LargeBinary)
    contact_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    contact_phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The 及时处理消费投诉承诺书: when the applicant accepted it (the request must accept it explicitly).
    undertaking_accepted_at: Mapped[datetime]
    # Enrollment criteria ("four haves and one sound system").
    handling_place: Mapped[str] = mapped_column(Text)
    complaint_staff_count: Mapped[int] = mapped_column(Integer)
    complaint_phone: Mapped[str] = mapped_column(String(32))
    networked_computer: Mapped[bool] = mapped_column(Boolean)
    handling_procedures: Mapped[str] = mapped_column(Text)
    cooperates_with_regulators: Mapped[bool] = mapped_column(Boolean)
    licence_path: Mapped[str] = mapped_column(Text)
    licence_filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    licence_media_type: Mapped[str] = mapped_column(String(64))
    licence_size: Mapped[int] = mapped_column(BigInteger)
    licence_sha256: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    # The regulator's reason, sealed (`sealed_context`, field "decision_reason").
    decision_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The applicant's way back (applications.access): SHA-256 of the status token handed out on applying, and of
    # the one-time credentials token derived from it once approved. Null on applications filed before them.
    status_token_hash: Mapped[str | None] = mapped_column(String(64))
    retrieval_token_hash: Mapped[str | None] = mapped_column(String(64))
    credentials_expire_at: Mapped[datetime | None]
    credentials_retrieved_at: Mapped[datetime | None]


def sealed_context(application_id: uuid.UUID, field: str) -> str:
    """The AES-GCM associated data of an application's personal field: a ciphertext moved to another row fails."""
    return f"odr_application:{application_id}:{field}"


def opened_decision_reason(application: OdrApplication, cipher: PiiCipher) -> str | None:
    """The regulator's reason for its decision, opened (None before a decision or when none was given)."""
    sealed = application.decision_reason_enc
    return cipher.decrypt(sealed, context=sealed_context(application.id, "decision_reason")) if sealed else None
