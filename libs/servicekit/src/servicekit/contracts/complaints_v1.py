"""Events of the complaints service (topic ``complaints.complaint``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel

from servicekit.contracts.base import EventContract


class RouteTarget(StrEnum):
    MERCHANT = "merchant"
    REGULATOR = "regulator"


class ComplainantForMerchant(BaseModel):
    """What negotiation needs of the complainant: a name and a masked phone, never full PII."""

    name: str
    phone_masked: str


class ComplaintFiled(EventContract):
    event_type: ClassVar[str] = "complaints.complaint.filed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    kind: str
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    sector: str
    category: str | None
    channel: str
    request_type: str
    request_amount_fen: int | None
    green_channel: bool
    filed_at: datetime


class ComplaintRouted(EventContract):
    event_type: ClassVar[str] = "complaints.complaint.routed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    target: RouteTarget
    merchant_id: uuid.UUID | None
    region_code: str
    consumer_id: str
    complainant: ComplainantForMerchant
    request_type: str
    request_amount_fen: int | None
    facts: str
    due_date: date | None
    routed_at: datetime


CONTRACTS: tuple[type[EventContract], ...] = (ComplaintFiled, ComplaintRouted)
