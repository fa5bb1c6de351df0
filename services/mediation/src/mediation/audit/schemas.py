"""Chain verification and review samples as regulators see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class BrokenEntry(BaseModel):
    id: uuid.UUID | None
    seq: int
    case_id: uuid.UUID | None
    kind: str | None
    reason: str = Field(description="hash | prev_hash | entry | missing | agreement | review")


class VerificationRead(BaseModel):
    region: str
    ok: bool
    entries: int = Field(description="Entries verified before the first broken one (all of them when ok).")
    first_broken: BrokenEntry | None


class ReviewMethod(StrEnum):
    SPOT_CHECK = "spot_check"
    FOLLOW_UP_CALL = "follow_up_call"


class SampleResult(StrEnum):
    SATISFACTORY = "satisfactory"
    ISSUES_FOUND = "issues_found"
    UNREACHABLE = "unreachable"


class ReviewResultCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: ReviewMethod
    outcome: SampleResult
    note: str | None = Field(default=None, max_length=4_000)


class ReviewRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    region_code: str
    sampled_at: datetime
    sampled_by: str
    method: ReviewMethod | None
    outcome: SampleResult | None
    note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None


class ReviewList(BaseModel):
    items: list[ReviewRead]
