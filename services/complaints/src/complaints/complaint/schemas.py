"""Request and response bodies of the complaint endpoints (architecture.md §5 canonical shapes)."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from complaints.complaint.state import (
    ActorRole,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    DeadlineState,
    RequestType,
)
from servicekit.calendar import local_date
from servicekit.db import utcnow

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Uscc = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^1[3-9]\d{9}$")]
Fen = Annotated[StrictInt, Field(ge=0, le=10**12)]


class RequestBody(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Complainant(RequestBody):
    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: Phone
    address: Annotated[Text, StringConstraints(max_length=500)] | None = None


class RespondentIn(RequestBody):
    """A registered merchant by id, or one not in the registry by name, address, USCC and region."""

    merchant_id: uuid.UUID | None = None
    name: Annotated[Text, StringConstraints(max_length=200)] | None = None
    address: Annotated[Text, StringConstraints(max_length=500)] | None = None
    uscc: Uscc | None = None
    region_code: RegionCode | None = None

    @model_validator(mode="after")
    def _identifies_the_business(self) -> Self:
        if self.merchant_id is None and (self.name is None or self.region_code is None):
            raise ValueError("give merchant_id, or name and region_code of a business not in the registry")
        return self


class RequestIn(RequestBody):
    type: RequestType
    amount_fen: Fen | None = None


class PurchaseIn(RequestBody):
    date: dt.date
    amount_fen: Fen
    order_no: Annotated[Text, StringConstraints(max_length=100)] | None = None

    @field_validator("date")
    @classmethod
    def _not_in_the_future(cls, value: dt.date) -> dt.date:
        if value > local_date(utcnow()):
            raise ValueError("the purchase date is in the future")
        return value


class ComplaintCreate(RequestBody):
    kind: ComplaintKind = ComplaintKind.COMPLAINT
    green_channel: StrictBool = False
    complainant: Complainant
    respondent: RespondentIn
    request: RequestIn
    facts: Annotated[Text, StringConstraints(max_length=5000)]
    purchase: PurchaseIn | None = None
    sector: Annotated[Text, StringConstraints(max_length=64)]
    category: Annotated[Text, StringConstraints(max_length=128)] | None = None
    channel: Channel = Channel.APP


class RespondentRead(BaseModel):
    merchant_id: uuid.UUID | None
    name: str
    address: str | None
    uscc: str | None
    region_code: str | None


class RequestRead(BaseModel):
    type: RequestType
    amount_fen: int | None


class PurchaseRead(BaseModel):
    date: dt.date
    amount_fen: int | None
    order_no: str | None


class ComplainantRead(BaseModel):
    name: str
    phone: str
    address: str | None


class DeadlineRead(BaseModel):
    kind: DeadlineKind
    due_date: date
    state: DeadlineState
    due_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    status: ComplaintStatus
    actor_role: ActorRole
    note: str | None


class ComplaintRead(BaseModel):
    """A complaint as its owner sees it: status, parties, request, deadlines and timeline."""

    id: uuid.UUID
    case_no: str
    kind: ComplaintKind
    status: ComplaintStatus
    mediation_case_id: uuid.UUID | None
    recovered_fen: int
    region_code: str
    green_channel: bool
    complainant: ComplainantRead
    respondent: RespondentRead
    request: RequestRead
    purchase: PurchaseRead | None
    facts: str
    sector: str
    category: str | None
    channel: Channel
    deadlines: list[DeadlineRead]
    timeline: list[TimelineEntry]
    filed_at: datetime
    routed_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime


class ComplaintSummary(BaseModel):
    """A complaint in a list: no personal data."""

    id: uuid.UUID
    case_no: str
    kind: ComplaintKind
    status: ComplaintStatus
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    request_type: RequestType
    green_channel: bool
    filed_at: datetime
    updated_at: datetime


class ComplaintList(BaseModel):
    items: list[ComplaintSummary]
    next_cursor: str | None
