"""Offers, counters and agreements as the parties send and see them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mediation.agreements.schemas import AgreementRead
from mediation.negotiation.models import MAX_AMOUNT_FEN, Offer, OfferStatus, OfferType, opened_offer_note
from servicekit.pii import PiiCipher

AmountFen = Annotated[int, Field(ge=0, le=MAX_AMOUNT_FEN, description="Integer fen (分), CNY; 0..10^10.")]
# Money changes hands in these; an apology carries no amount at all.
AMOUNT_REQUIRED = frozenset({OfferType.REFUND, OfferType.COMPENSATION})
AMOUNT_FORBIDDEN = frozenset({OfferType.APOLOGY})


class OfferTerms(BaseModel):
    """A typed proposal; whether `amount_fen` is required depends on the type."""

    model_config = ConfigDict(extra="forbid")

    type: OfferType
    amount_fen: AmountFen | None = None
    fulfil_by: date | None = Field(default=None, description="Local date (Asia/Shanghai) the enterprise performs by.")
    note: str | None = Field(default=None, max_length=2_000)

    @model_validator(mode="after")
    def _amount_fits_type(self) -> Self:
        if self.type in AMOUNT_REQUIRED and self.amount_fen is None:
            raise ValueError(f"amount_fen is required for a {self.type.value} offer")
        if self.type in AMOUNT_FORBIDDEN and self.amount_fen is not None:
            raise ValueError(f"a {self.type.value} offer carries no amount_fen")
        return self


class OfferCreate(OfferTerms):
    pass


class OfferReject(BaseModel):
    """Reject an offer; optionally counter with terms of one's own, or ask for the regulator (not both)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2_000)
    counter: OfferTerms | None = None
    escalate: bool = False

    @model_validator(mode="after")
    def _counter_or_escalate(self) -> Self:
        if self.counter is not None and self.escalate:
            raise ValueError("either counter or escalate, not both")
        return self


class CaseDecline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2_000)


class OfferRead(BaseModel):
    id: uuid.UUID
    status: OfferStatus
    made_by: str
    type: OfferType
    amount_fen: int | None
    fulfil_by: date | None
    note: str | None
    counter_to: uuid.UUID | None
    made_at: datetime
    answered_at: datetime | None


class OfferAnswer(BaseModel):
    case_status: str
    offer: OfferRead
    counter: OfferRead | None = None
    agreement: AgreementRead | None = None


def offer_read(offer: Offer, cipher: PiiCipher) -> OfferRead:
    return OfferRead(id=offer.id, status=OfferStatus(offer.status), made_by=offer.made_by,
                     type=OfferType(offer.offer_type), amount_fen=offer.amount_fen, fulfil_by=offer.fulfil_by,
                     note=opened_offer_note(cipher, offer), counter_to=offer.counter_to, made_at=offer.made_at,
                     answered_at=offer.answered_at)
