"""What the parties see of a case."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from mediation.cases.state import CaseStatus, DeadlineKind, DeadlineState


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


class CasePurchaseRead(BaseModel):
    """The purchase the complaint is about, as the consumer gave it."""

    order_no: str | None
    date: date | None
    amount_fen: int | None = Field(description="Integer fen (分), CNY.")


class SharedEvidenceRead(BaseModel):
    """An attachment the consumer shared with the enterprise; the enterprise downloads it at `download_path`."""

    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    download_path: str = Field(description="GET it with the enterprise's token; no one else's token opens it.")


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
    purchase: CasePurchaseRead | None = None
    sector: str | None = None
    category: str | None = None
    issue_type: str | None = None
    evidence: list[SharedEvidenceRead] = Field(default_factory=list)
    opened_at: datetime
    closed_at: datetime | None


class MediatorRead(BaseModel):
    kind: str
    id: str
    region_code: str | None
    delegated: bool


class StaffCaseSummary(BaseModel):
    """A case in a staff list: who mediates it and its clocks; no personal data (reading a case is logged)."""

    id: uuid.UUID
    complaint_id: uuid.UUID
    case_no: str
    status: CaseStatus
    stage: str
    merchant_id: uuid.UUID | None
    region_code: str
    mediator: MediatorRead | None
    deadlines: list[DeadlineRead]
    opened_at: datetime
    closed_at: datetime | None


class StaffCaseList(BaseModel):
    items: list[StaffCaseSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CaseList(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
