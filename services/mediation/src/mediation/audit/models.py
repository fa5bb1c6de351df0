"""The per-region hash chain of outcomes and agreements, and the regulators' review samples (Art. 26)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base
from servicekit.db import new_id, utcnow


class AuditChainHead(Base):
    """The last entry of a region's chain; appends lock this row, so a region's entries are written one at a time."""

    __tablename__ = "audit_chain_head"

    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """hash = SHA-256(prev_hash + canonical JSON of `entry`); `entry` carries its own region and seq."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("region_code", "seq", name="uq_audit_entry_region_code_seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    region_code: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    entry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    appended_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class CaseReview(Base):
    """A closed case drawn for a spot check or follow-up call (抽查、回访, Order 121 Art. 26) and its result."""

    __tablename__ = "case_review"
    __table_args__ = (UniqueConstraint("case_id", name="uq_case_review_case_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    sampled_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sampled_by: Mapped[str] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
