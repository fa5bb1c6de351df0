"""Request and response bodies of regulators' actions on ODR enterprises."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class EnrollmentRead(BaseModel):
    merchant_id: uuid.UUID
    status: str


class StatusChange(BaseModel):
    """The latest move of an enrollment, from its audit trail."""

    at: datetime
    from_status: str | None
    to_status: str
    actor_role: str
    reason: str | None


class EnterpriseRead(BaseModel):
    """An ODR enterprise as its regulator sees it in the list: who it is and where its enrollment stands."""

    merchant_id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    sector: str
    address: str
    status: str = Field(description="approved, suspended or revoked")
    approved_at: datetime | None
    suspended_at: datetime | None
    revoked_at: datetime | None
    last_change: StatusChange


class EnterpriseList(BaseModel):
    items: list[EnterpriseRead]
    next_cursor: str | None
