"""The per-region hash chain of outcomes and agreements, the regulators' review samples (Art. 26) and the review
queue that the samples and the outcome signals (`mediation.outcomes`) feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base, sql_values
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher


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
    # The reviewer's note, sealed ("<table>:<id>:note", `review_note_context`).
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(200))


class ReviewOutcome(StrEnum):
    """What a reviewer found: the outcome stands (`confirmed`), or one of three findings."""

    CONFIRMED = "confirmed"
    CONSUMER_CALLED_BACK = "consumer_called_back"
    REFERRED_FOR_ENFORCEMENT = "referred_for_enforcement"
    AGREEMENT_REOPENED_WITH_CONSENT = "agreement_reopened_with_consent"



class AuditReview(Base):
    """One item of the review queue: a case with signals, drawn by the Art. 26 sample, or both; one open per case."""

    __tablename__ = "audit_review"
    __table_args__ = (
        CheckConstraint(f"outcome IS NULL OR outcome IN ({sql_values(ReviewOutcome)})", name="outcome"),
        CheckConstraint("(outcome IS NULL) = (reviewed_at IS NULL)", name="reviewed"),
        Index("uq_audit_review_open_case", "case_id", unique=True, postgresql_where=text("reviewed_at IS NULL")),
        Index("ix_audit_review_region_code_id", "region_code", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    merchant_id: Mapped[uuid.UUID | None]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # The Art. 26 sample that put the case in the queue, if it was drawn.
    sample_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case_review.id"))
    outcome: Mapped[str | None] = mapped_column(String(40))
    # The reviewer's note, sealed ("<table>:<id>:note", `review_note_context`).
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)


def review_note_context(table: str, review_id: uuid.UUID) -> str:
    """The AES-GCM associated data of a review's note (table: case_review or audit_review)."""
    return f"{table}:{review_id}:note"


def sealed_review_note(cipher: PiiCipher, table: str, review_id: uuid.UUID, note: str | None) -> bytes | None:
    return cipher.encrypt(note, context=review_note_context(table, review_id)) if note is not None else None


def opened_review_note(cipher: PiiCipher, table: str, review_id: uuid.UUID, sealed: bytes | None) -> str | None:
    return cipher.decrypt(sealed, context=review_note_context(table, review_id)) if sealed is not None else None
