"""Typed offers: what the parties put on the table until one is accepted."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base, sql_values
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher

MAX_AMOUNT_FEN = 10**10


class OfferType(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    APOLOGY = "apology"
    OTHER = "other"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # A counter-proposal the enterprise answered with a new offer of its own.
    SUPERSEDED = "superseded"
    # Open when the case closed without it being answered (deadline, decline, termination).
    LAPSED = "lapsed"


class Party(StrEnum):
    """Who made an offer: the enterprise, the consumer countering, or the mediator recording signed terms."""

    CONSUMER = "consumer"
    ENTERPRISE = "enterprise"
    MEDIATOR = "mediator"



class Offer(Base):
    """One proposal on the table; the database holds at most one open offer per case."""

    __tablename__ = "offer"
    __table_args__ = (
        CheckConstraint(f"offer_type IN ({sql_values(OfferType)})", name="offer_type"),
        CheckConstraint(f"status IN ({sql_values(OfferStatus)})", name="status"),
        CheckConstraint(f"made_by IN ({sql_values(Party)})", name="made_by"),
        CheckConstraint(f"amount_fen IS NULL OR amount_fen BETWEEN 0 AND {MAX_AMOUNT_FEN}", name="amount_fen"),
        Index("uq_offer_one_open_per_case", "case_id", unique=True, postgresql_where=text("status = 'open'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    made_by: Mapped[str] = mapped_column(String(16))
    made_by_id: Mapped[str] = mapped_column(String(200))
    offer_type: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    fulfil_by: Mapped[date | None]
    # What its maker wrote, sealed ("offer:<id>:note").
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    counter_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offer.id"))
    made_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[str | None] = mapped_column(String(200))


def offer_note_context(offer_id: uuid.UUID) -> str:
    """The AES-GCM associated data of an offer's note."""
    return f"offer:{offer_id}:note"


def sealed_offer_note(cipher: PiiCipher, offer_id: uuid.UUID, note: str | None) -> bytes | None:
    return cipher.encrypt(note, context=offer_note_context(offer_id)) if note is not None else None


def opened_offer_note(cipher: PiiCipher, offer: Offer) -> str | None:
    return cipher.decrypt(offer.note_enc, context=offer_note_context(offer.id)) if offer.note_enc is not None else None
