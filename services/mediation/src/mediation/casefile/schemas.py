"""One case as its parties see it, with everything on its table."""

from __future__ import annotations

from pydantic import Field

from mediation.agreements.schemas import AgreementRead
from mediation.cases.schemas import CaseRead, MediatorRead
from mediation.fulfilment.schemas import ProofRead
from mediation.messages.schemas import AttachmentRead, MessageRead, ReadReceiptRead
from mediation.negotiation.schemas import OfferRead


class CaseDetail(CaseRead):
    """One case with everything on its table: offers, the agreement, messages and read receipts."""

    stage: str
    failure_reason: str | None
    termination_ground: int | None
    mediator: MediatorRead | None
    offers: list[OfferRead]
    agreement: AgreementRead | None
    fulfilment_proofs: list[ProofRead]
    messages: list[MessageRead]
    attachments: list[AttachmentRead] = Field(description="Every upload to the case, referenced by a message or not.")
    read_receipts: list[ReadReceiptRead]
