"""Request and response bodies of summons records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from servicekit.calendar import local_date
from servicekit.db import utcnow

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CaseNo = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{2}-\d{6}-\d{8}-\d{6}$")]


class Attendee(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    organisation: Line = Field(examples=["格尔木市市场监督管理局"])
    title: Line | None = Field(default=None, examples=["消费者权益保护科科长"])


class SummonsCreate(BaseModel):
    """What the regulator records after the meeting."""

    model_config = ConfigDict(extra="forbid")

    held_on: date = Field(description="The day of the meeting; not in the future")
    attendees: list[Attendee] = Field(min_length=1, max_length=50)
    findings: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
    undertakings: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]] = (
        Field(min_length=1, max_length=50, description="What the enterprise undertook to do, one item each"))
    case_nos: list[CaseNo] = (
        Field(default_factory=list, max_length=200, description="The complaints it was about (TS-...)"))

    @field_validator("held_on")
    @classmethod
    def _not_in_the_future(cls, held_on: date) -> date:
        if held_on > local_date(utcnow()):
            raise ValueError("a summons is recorded after it was held")
        return held_on


class SummonsRead(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    merchant_name: str
    region_code: str
    held_on: date
    attendees: list[Attendee]
    findings: str
    undertakings: list[str]
    case_nos: list[str]
    recorded_by: str
    recorded_at: datetime


class SummonsList(BaseModel):
    items: list[SummonsRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
