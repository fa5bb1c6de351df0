"""Proof that the enterprise did what the agreement says, and the consumer's answer to it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base
from servicekit.db import new_id, utcnow


class ProofKind(StrEnum):
    REFUND_TXN = "refund_txn"
    SHIPMENT = "shipment"
    REPAIR_ORDER = "repair_order"
    OTHER = "other"


class ProofAnswer(StrEnum):
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class FulfilmentProof(Base):
    """One piece of proof the enterprise recorded; the consumer confirms or disputes it."""

    __tablename__ = "fulfilment_proof"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(kind.value) for kind in ProofKind)})", name="kind"),
        CheckConstraint(f"answer IS NULL OR answer IN ({', '.join(repr(a.value) for a in ProofAnswer)})",
                        name="answer"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlement_agreement.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # What the parties wrote, sealed ("fulfilment_proof:<id>:<field>", `proof_context`).
    reference_enc: Mapped[bytes] = mapped_column(LargeBinary)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str | None] = mapped_column(String(16))
    answer_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    answered_at: Mapped[datetime | None]


def proof_context(proof_id: uuid.UUID, field: str) -> str:
    """The AES-GCM associated data of a proof's sealed fields (reference, note, answer_note)."""
    return f"fulfilment_proof:{proof_id}:{field}"
