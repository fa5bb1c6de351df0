"""Response bodies of the deadline domain: a clock as the case detail shows it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from complaints.deadline.enums import DeadlineKind, DeadlineState


class DeadlineRead(BaseModel):
    """A clock; `working_days_left` counts the working days after today up to the due date (holidays and swapped
    weekends included), 0 on the due date and after it, null unless the clock runs. It is counted when the answer is
    made: a cached answer (ETag, 304) keeps the count of the day it was made."""

    kind: DeadlineKind
    due_date: date
    state: DeadlineState
    due_at: datetime
    working_days_left: int | None = None
