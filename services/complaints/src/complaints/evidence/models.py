"""Table of the evidence domain: the attachments consumers upload."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base, case_reference


class Evidence(Base):
    """An attachment a consumer uploaded; it belongs to a case once a filing names it in `evidence_ids`."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_bytes_positive"),
        Index("ix_evidence_complaint_id", "complaint_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consumer_id: Mapped[str] = mapped_column(String(200), index=True)
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(case_reference())
    # The consumer's original file name, encrypted (`service.filename_context`); the stored file is named by the id.
    filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # The consumer chose to show it to the ODR enterprise (which then may download it); else staff only.
    shared_with_merchant: Mapped[bool] = mapped_column(Boolean, server_default="false")
