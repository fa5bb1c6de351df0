"""Response bodies of the public disclosure (Art. 38)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel


class PublicComplaint(BaseModel):
    """A closed complaint as the public sees it: the enterprise, the dispute's codes, the dates and the outcome."""

    id: uuid.UUID
    case_no: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    region_code: str
    sector: str
    category: str | None
    request_type: str
    outcome: str
    recovered_fen: int
    filed_on: date
    closed_on: date
    answered_in_time: bool | None
    facts: str | None


class PublicComplaintList(BaseModel):
    items: list[PublicComplaint]
    next_cursor: str | None
