"""Events of the mediation service (topic ``mediation.case``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar

from servicekit.contracts.base import EventContract


class CaseOpened(EventContract):
    event_type: ClassVar[str] = "mediation.case.opened.v1"
    aggregate_field: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    complaint_id: uuid.UUID
    merchant_id: uuid.UUID | None
    region_code: str
    status: str
    due_date: date | None
    opened_at: datetime


CONTRACTS: tuple[type[EventContract], ...] = (CaseOpened,)
