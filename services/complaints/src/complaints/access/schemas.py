"""Reveal requests and answers, and the access log as a supervisor and as the consumer read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from complaints.access.models import PartyField, RevealPurpose
from complaints.complaint.schemas import ComplainantRead, PartiesRead, RequestBody, Text


class RevealIn(RequestBody):
    """Why the caller needs the parties' personal data in full: a coded purpose and a note, both required; `fields`
    narrows what is shown (default: everything the case holds)."""

    purpose: RevealPurpose
    note: Annotated[Text, StringConstraints(max_length=500)]
    fields: Annotated[list[PartyField], Field(default_factory=lambda: list(PartyField), min_length=1,
                                                max_length=len(PartyField))]


class RevealRead(BaseModel):
    """The parties with the revealed fields in full and the others still masked; `fields` lists what was shown."""

    complaint_id: uuid.UUID
    complainant: ComplainantRead | None
    parties: PartiesRead | None
    fields: list[PartyField]
    access_id: uuid.UUID
    at: datetime


class AccessRead(BaseModel):
    """One reveal as a supervisor audits it: who (token subject, role, region), when, what and why."""

    id: uuid.UUID
    at: datetime
    actor_sub: str
    actor_role: str
    actor_region: str | None
    fields: list[str]
    purpose: str
    note: str | None


class AccessList(BaseModel):
    items: list[AccessRead]
    next_cursor: str | None


class RegionAccessRead(AccessRead):
    """One staff read in a region's audit: the reveal and the case it was of."""

    complaint_id: uuid.UUID
    case_no: str


class RegionAccessList(BaseModel):
    items: list[RegionAccessRead]
    next_cursor: str | None


class ConsumerAccessRead(BaseModel):
    """One reveal as the consumer sees it: the role and the bureau (its region), never the staff member."""

    at: datetime
    role: str
    region_code: str | None
    region_name: str | None
    fields: list[str]
    purpose: str


class ConsumerAccessList(BaseModel):
    items: list[ConsumerAccessRead]
    next_cursor: str | None


class ConsumerCaseAccessRead(ConsumerAccessRead):
    """One read of the consumer's personal data in their data export: the reveal and the case it was of."""

    complaint_id: uuid.UUID
