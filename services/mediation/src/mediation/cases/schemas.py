"""What the parties see of a case."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from mediation.cases.state import CaseStatus, DeadlineKind, DeadlineState
from mediation.fulfilment.schemas import ProofRead
from mediation.messages.schemas import AttachmentRead, MessageRead, ReadReceiptRead
from mediation.negotiation.schemas import AgreementRead, OfferRead


class DeadlineRead(BaseModel):
    """A clock as it stands today; `working_days_left` counts the working days after today up to the due date
    (holidays and swapped weekends included), 0 on the due date and after it, null unless the clock runs."""

    kind: DeadlineKind
    due_date: date
    state: DeadlineState
    working_days_left: int | None = None


class ComplainantRead(BaseModel):
    """Only what negotiation needs: a name and a masked phone."""

    name: str
    phone_masked: str


class CaseRequestRead(BaseModel):
    type: str
    amount_fen: int | None = Field(description="Integer fen (分), CNY; null when the request has no amount.")


class CaseRead(BaseModel):
    id: uuid.UUID
    complaint_id: uuid.UUID
    case_no: str
    status: CaseStatus
    merchant_id: uuid.UUID | None
    region_code: str
    deadlines: list[DeadlineRead]
    complainant: ComplainantRead
    request: CaseRequestRead
    facts: str
    opened_at: datetime
    closed_at: datetime | None


class MediatorRead(BaseModel):
    kind: str
    id: str
    region_code: str | None
    delegated: bool


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


class CaseList(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
