"""Scorecards as enterprises, regulators and the public see them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class FlagRead(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    level: str
    reasons: list[str]
    raised_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    resolution_note: str | None


class ProposalRead(FlagRead):
    """A suspension proposal with the enterprise it concerns named."""

    merchant_name: str
    region_code: str


class SummonsSummary(BaseModel):
    """A summons (约谈) of the enterprise held in the period; the full record is the regulators'."""

    id: uuid.UUID
    held_on: date
    findings: str
    undertakings: list[str]


class Scorecard(BaseModel):
    """Counts of complaints routed to the enterprise within the period, and rates per case."""

    merchant_id: uuid.UUID
    name: str
    region_code: str
    enrollment_status: str
    period_from: date
    period_to: date
    cases_received: int
    answered_within_deadline: int
    answered_within_deadline_rate: float | None
    closed: int
    settled: int
    settlement_rate: float | None
    median_days_to_settle: float | None
    fulfilment_confirmed: int
    fulfilment_confirmed_rate: float | None
    ratings: int
    average_rating: float | None
    orders: int | None = Field(description="Orders reported for the period (months prorated by days), if any")
    complaints_per_1000_orders: float | None
    cases_reviewed: int = Field(default=0, description="Cases a regulator reviewed after closure (outcome audit)")
    review_findings: int = Field(default=0, description="Reviews that found something (any outcome but confirmed)")
    open_flags: list[FlagRead] = []
    summons: list[SummonsSummary] = Field(default_factory=list,
                                          description="Summons held in the period, newest first")


class ScorecardList(BaseModel):
    items: list[Scorecard]
    next_cursor: str | None


class PublicEnterprise(BaseModel):
    merchant_id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    sector: str
    scorecard: Scorecard


class PublicEnterpriseList(BaseModel):
    items: list[PublicEnterprise]
    next_cursor: str | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class OrderVolumeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orders: int = Field(ge=0, le=10**12, description="Orders in the month")


class OrderVolumeRead(BaseModel):
    month: str
    orders: int
