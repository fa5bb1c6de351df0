"""Events of the mediation service (topic ``mediation.case``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar

from pydantic import Field

from servicekit.contracts.base import EventContract, SealedText
from servicekit.pii import PiiCipher, open_from_event, seal_for_event


class CaseOpened(EventContract):
    event_type: ClassVar[str] = "mediation.case.opened.v1"
    aggregate_field: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    complaint_id: uuid.UUID
    merchant_id: uuid.UUID | None
    region_code: str
    status: str
    due_date: date | None
    opened_at: datetime


class CaseEvent(EventContract):
    """Fields every case event carries, so consumers (webhooks, scorecards) need no lookup."""

    aggregate_field: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    complaint_id: uuid.UUID
    merchant_id: uuid.UUID | None
    region_code: str
    at: datetime


class OfferMade(CaseEvent):
    """The enterprise (or the consumer, countering) put a typed offer on the table."""

    event_type: ClassVar[str] = "mediation.case.offer_made.v1"

    offer_id: uuid.UUID
    made_by: str
    offer_type: str
    amount_fen: int | None
    fulfil_by: date | None


class OfferAnswered(CaseEvent):
    """An open offer was rejected or withdrawn (acceptance is `settled`)."""

    event_type: ClassVar[str] = "mediation.case.offer_answered.v1"

    offer_id: uuid.UUID
    answer: str
    answered_by: str


class MessagePosted(CaseEvent):
    event_type: ClassVar[str] = "mediation.case.message_posted.v1"

    message_id: uuid.UUID
    author_role: str
    attachment_count: int = Field(default=0, ge=0, description="How many attachments the message carries.")


class CaseSettled(CaseEvent):
    """Both parties consented to an agreement; `amount_fen` is the money it gives the consumer."""

    event_type: ClassVar[str] = "mediation.case.settled.v1"

    stage: str
    agreement_id: uuid.UUID
    agreement_hash: str
    amount_fen: int
    fulfil_by: date | None
    document_no: str | None = None


class NegotiationFailed(CaseEvent):
    """Direct negotiation ended without agreement; the complaint goes to regulator intake."""

    event_type: ClassVar[str] = "mediation.case.negotiation_failed.v1"

    reason: str


class CaseTerminated(CaseEvent):
    """Regulator mediation ended without agreement, with an Art. 23 ground (1..8). The mediator's note travels
    sealed (`note_sealed`, the shared PII key, bound to the case); producers before the seal sent it in `note`."""

    event_type: ClassVar[str] = "mediation.case.terminated.v1"

    ground: int
    note: str | None = Field(default=None, description="Only in events published before the seal: the note in clear.")
    notice_due: date | None = None
    note_sealed: SealedText | None = None

    @staticmethod
    def note_context(case_id: uuid.UUID) -> str:
        return f"mediation.case:{case_id}:note"

    @classmethod
    def seal_note(cls, cipher: PiiCipher, *, case_id: uuid.UUID, note: str) -> str:
        return seal_for_event(cipher, note, context=cls.note_context(case_id))

    def note_text(self, cipher: PiiCipher) -> str | None:
        if self.note_sealed is None:
            return self.note
        return open_from_event(cipher, self.note_sealed, context=self.note_context(self.case_id))


class FulfilmentRecorded(CaseEvent):
    """The enterprise recorded proof of fulfilment; its reference (a refund's transaction id, a parcel's number)
    travels sealed (`reference_sealed`, bound to the case); producers before the seal sent it in `reference`."""

    event_type: ClassVar[str] = "mediation.case.fulfilment_recorded.v1"

    agreement_id: uuid.UUID
    proof_kind: str
    reference: str | None = Field(
        default=None, description="Only in events published before the seal: the reference in clear.")
    reference_sealed: SealedText | None = None

    @staticmethod
    def reference_context(case_id: uuid.UUID) -> str:
        return f"mediation.case:{case_id}:reference"

    @classmethod
    def seal_reference(cls, cipher: PiiCipher, *, case_id: uuid.UUID, reference: str) -> str:
        return seal_for_event(cipher, reference, context=cls.reference_context(case_id))


class FulfilmentConfirmed(CaseEvent):
    """The consumer confirmed (or disputed) the enterprise's proof of fulfilment."""

    event_type: ClassVar[str] = "mediation.case.fulfilment_confirmed.v1"

    agreement_id: uuid.UUID
    confirmed: bool


class FulfilmentOverdue(CaseEvent):
    """The consumer has not confirmed fulfilment: `level` reminder first, then regulator (flagged for follow-up)."""

    event_type: ClassVar[str] = "mediation.case.fulfilment_overdue.v1"

    agreement_id: uuid.UUID
    level: str


class MediatorAssigned(CaseEvent):
    """Regulator mediation got its mediator: regulator staff, or by delegation (Art. 19) a consumer association or
    a service station."""

    event_type: ClassVar[str] = "mediation.case.mediator_assigned.v1"

    mediator_kind: str
    mediator_id: str
    delegated: bool


class MediationClockPaused(CaseEvent):
    """The 60-day clock stopped: appraisal (Art. 22) or a recusal request suspending mediation (Art. 21)."""

    event_type: ClassVar[str] = "mediation.case.clock_paused.v1"

    cause: str


class MediationClockResumed(CaseEvent):
    """The 60-day clock runs again; the paused days moved its due date."""

    event_type: ClassVar[str] = "mediation.case.clock_resumed.v1"

    cause: str
    mediation_due_date: date


class CaseReviewed(CaseEvent):
    """A regulator recorded the outcome of reviewing a closed case (signals or the Art. 26 sample).

    `finding` is true for every outcome but `confirmed` (the outcome stands). Not for webhooks: reviews are the
    regulator's business, as reports are.
    """

    event_type: ClassVar[str] = "mediation.case.reviewed.v1"

    review_id: uuid.UUID
    outcome: str
    finding: bool
    signals: list[str]
    sampled: bool


CONTRACTS: tuple[type[EventContract], ...] = (
    CaseOpened,
    OfferMade,
    OfferAnswered,
    MessagePosted,
    CaseSettled,
    NegotiationFailed,
    CaseTerminated,
    FulfilmentRecorded,
    FulfilmentConfirmed,
    FulfilmentOverdue,
    MediatorAssigned,
    MediationClockPaused,
    MediationClockResumed,
    CaseReviewed,
)
