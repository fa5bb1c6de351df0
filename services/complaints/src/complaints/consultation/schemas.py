"""Request and response bodies of the consultation (咨询) endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, StrictBool, StringConstraints, model_validator

from complaints.complaint.enums import ActorRole, Channel
from complaints.complaint.schemas import (
    Agent,
    CategoryCode,
    Complainant,
    Phone,
    PurchaseIn,
    RegionCode,
    RequestBody,
    RequestIn,
    RespondentIn,
    SectorCode,
    Text,
)
from complaints.consultation.models import ClockState, ConsultationStatus

Question = Annotated[Text, StringConstraints(max_length=5000)]

# Channels staff may name when they file for someone; station staff always file as `station`.
STAFF_CHANNELS = frozenset({Channel.HOTLINE, Channel.TRANSFER_12345, Channel.TRANSFER_12315, Channel.STAFF,
                            Channel.CONSUMER_ASSOCIATION})


# Channels a consumer asks through themselves.
CONSUMER_CHANNELS = frozenset({Channel.APP, Channel.WEB, Channel.MINI_PROGRAM})


class ConsultationCreate(RequestBody):
    """A question to the market regulator of `region_code` about `sector` (a code from the sector list)."""

    question: Question
    sector: SectorCode
    region_code: RegionCode
    channel: Channel = Channel.APP

    @model_validator(mode="after")
    def _a_consumer_channel(self) -> Self:
        if self.channel not in CONSUMER_CHANNELS:
            raise ValueError(f"a consumer asks through one of {sorted(CONSUMER_CHANNELS)}")
        return self


class Asker(RequestBody):
    """The caller or walk-in a hotline operator or station staff ask for; the consultation becomes theirs (their
    phone's login sees it)."""

    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: Phone


class StaffConsultationCreate(RequestBody):
    """A consultation a hotline operator (channel hotline, default) or station staff (always station) record."""

    question: Question
    sector: SectorCode
    region_code: RegionCode
    asker: Asker
    channel: Channel = Channel.HOTLINE

    @model_validator(mode="after")
    def _a_staff_channel(self) -> Self:
        if self.channel not in STAFF_CHANNELS and self.channel is not Channel.STATION:
            raise ValueError(f"staff file through one of {sorted(STAFF_CHANNELS)} (station staff: station)")
        return self


class AnswerIn(RequestBody):
    answer: Annotated[Text, StringConstraints(max_length=5000)]


class ComplaintFromConsultation(RequestBody):
    """What a complaint needs beyond the consultation: the consultation gives the facts (the question, unless
    `facts` is given), the sector and the channel; the consumer adds who they are, whom they complain about and what
    they ask for."""

    complainant: Complainant
    respondent: RespondentIn
    request: RequestIn
    facts: Annotated[Text, StringConstraints(max_length=5000)] | None = None
    purchase: PurchaseIn | None = None
    category: CategoryCode | None = None
    green_channel: StrictBool = False
    agent: Agent | None = None
    evidence_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    disclosure_consent: StrictBool = False


class ClockRead(BaseModel):
    """The answer clock: due by the end of `due_date` (local), `working_days` after the day it was asked."""

    working_days: int
    due_date: date
    state: ClockState
    breached_at: datetime | None


class AskerRead(BaseModel):
    name: str
    phone: str


class ConsultationEventRead(BaseModel):
    at: datetime
    status: ConsultationStatus
    actor_role: ActorRole
    note: str | None


class ConsultationRead(BaseModel):
    """A consultation with its answer, clock and timeline; `asker` (staff filings) only for the regulator."""

    id: uuid.UUID
    case_no: str
    status: ConsultationStatus
    region_code: str
    sector: str
    channel: Channel
    question: str
    answer: str | None
    answered_at: datetime | None
    filed_at: datetime
    clock: ClockRead
    complaint_id: uuid.UUID | None
    asker: AskerRead | None = None
    timeline: list[ConsultationEventRead]


class ConsultationSummary(BaseModel):
    id: uuid.UUID
    case_no: str
    status: ConsultationStatus
    region_code: str
    sector: str
    channel: Channel
    filed_at: datetime
    due_date: date
    clock_state: ClockState
    complaint_id: uuid.UUID | None


class ConsultationList(BaseModel):
    items: list[ConsultationSummary]
    next_cursor: str | None
