"""Outcome records, signals, thresholds, the review queue and its figures as regulators see them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediation.audit.models import ReviewOutcome
from mediation.outcomes.models import SignalKind


class SettledBy(StrEnum):
    """Who brought the parties to agreement."""

    ENTERPRISE_NEGOTIATION = "enterprise_negotiation"
    REGULATOR_MEDIATION = "regulator_mediation"
    STATION = "station"
    CONSUMER_ASSOCIATION = "consumer_association"


class Remedy(BaseModel):
    type: str | None
    amount_fen: int | None = Field(description="Integer fen (分), CNY; null when there is no amount.")


class FulfilmentRead(BaseModel):
    status: str = Field(description="pending | recorded | confirmed | disputed")
    fulfil_by: date | None


class OutcomeRecord(BaseModel):
    """What was asked against what was agreed, how long it took, who settled it, and what happened after."""

    case_id: uuid.UUID | None = Field(description="The mediation case; null for a complaint a service station "
                                                  "settled on the spot, which never became one.")
    case_no: str
    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    sector: str | None
    status: str = Field(description="settled | terminated")
    stage: str = Field(description="negotiation | mediation | station (settled on the spot at a service station)")
    opened_at: datetime
    filed_at: datetime | None
    closed_at: datetime
    days_to_close: int = Field(description="Calendar days (Asia/Shanghai) from filing (else opening) to closure.")
    requested: Remedy
    agreed: Remedy | None
    settled_by: SettledBy | None = Field(description="Null when the case ended without agreement.")
    mediator_id: str | None = Field(description="The mediator; for a settlement on the spot, the station's id.")
    termination_ground: int | None
    fulfilment: FulfilmentRead | None
    rating: int | None = Field(description="The consumer's rating of the handling, 1..5, once given.")
    signals: list[SignalKind]


class OutcomeList(BaseModel):
    items: list[OutcomeRecord]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SignalRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    signal: SignalKind
    detail: dict[str, Any]
    raised_at: datetime
    review_id: uuid.UUID | None


class SignalList(BaseModel):
    items: list[SignalRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ThresholdValues(BaseModel):
    """Every threshold; in a request, a field left out or null is inherited from the nearest ancestor region."""

    model_config = ConfigDict(extra="forbid")

    low_settlement_share: float | None = Field(
        default=None, gt=0, le=1,
        description="low_settlement below this share of the requested amount (0.10 = 10 %), kept to 0.01 %.")
    refile_days: int | None = Field(default=None, ge=1, le=3650, description="refiled_after_close window.")
    withdrawal_days: int | None = Field(default=None, ge=1, le=3650,
                                        description="withdrawn_after_contact window after the first contact.")
    fulfilment_overdue_days: int | None = Field(default=None, ge=1, le=3650,
                                                description="fulfilment_overdue: days after the fulfil-by day.")
    outlier_min_cases: int | None = Field(default=None, ge=2, le=100_000,
                                          description="Closed cases both a subject and its peers need.")
    outlier_z: float | None = Field(default=None, gt=0, le=100, description="z score that counts as far.")
    outlier_window_days: int | None = Field(default=None, ge=1, le=3650,
                                            description="Closures counted by the outlier rates.")


class ThresholdsRead(BaseModel):
    region: str
    effective: ThresholdValues = Field(description="What the rules apply in this region now.")
    sources: dict[str, str] = Field(description="Per setting: the region whose row set it, or `default`.")
    own: ThresholdValues = Field(description="This region's own settings; null = inherited.")
    rules: dict[SignalKind, str] = Field(description="The rule of every signal, in words.")


class QueueState(StrEnum):
    OPEN = "open"
    REVIEWED = "reviewed"


class ReviewItemRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    queued_at: datetime
    sampled: bool = Field(description="Drawn by the Art. 26 random sample.")
    sample_id: uuid.UUID | None
    signals: list[SignalKind]
    outcome: ReviewOutcome | None
    note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    chain_seq: int | None = Field(description="The review's entry in the region's audit chain.")


class ReviewItemList(BaseModel):
    items: list[ReviewItemRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ReviewOutcomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: ReviewOutcome
    note: str | None = Field(default=None, max_length=4_000)


class EnterpriseFigures(BaseModel):
    merchant_id: uuid.UUID | None
    cases_reviewed: int
    outcomes: dict[ReviewOutcome, int]
    signals_raised: dict[SignalKind, int]


class PeriodFigures(BaseModel):
    """Reviews recorded and signals raised in [from, to] (local dates, Asia/Shanghai, both included)."""

    region: str
    from_: date = Field(alias="from")
    to: date
    cases_reviewed: int
    outcomes: dict[ReviewOutcome, int] = Field(
        description="Reviews by outcome; every outcome but confirmed is a finding.")
    findings: int
    signals_raised: dict[SignalKind, int]
    enterprises: list[EnterpriseFigures]

    model_config = ConfigDict(populate_by_name=True)
