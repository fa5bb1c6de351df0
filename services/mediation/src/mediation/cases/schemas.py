"""What the parties see of a case."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from mediation.cases.state import CaseStatus, DeadlineKind, DeadlineState


class DeadlineRead(BaseModel):
    kind: DeadlineKind
    due_date: date
    state: DeadlineState


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


class CaseList(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
