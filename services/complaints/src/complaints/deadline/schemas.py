"""Response bodies of the deadline domain: a clock as the case detail shows it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from complaints.deadline.enums import DeadlineKind, DeadlineState


class DeadlineRead(BaseModel):
    kind: DeadlineKind
    due_date: date
    state: DeadlineState
    due_at: datetime
