"""When a case's personal data may be erased: closed, past its retention period, and not erased already."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from complaints.complaint.state import FINAL, status_of
from servicekit.problems import Problem


def erasable_after(case: Any, retention: timedelta) -> datetime | None:
    """The instant from which the case's personal data may be erased, or None while the case is open."""
    if status_of(case["status"]) not in FINAL or case["closed_at"] is None:
        return None
    closed_at: datetime = case["closed_at"]
    return closed_at + retention


def ensure_erasable(case: Any, *, now: datetime, retention: timedelta) -> None:
    """Nothing, or a 409 problem saying why the case's personal data must still be kept."""
    if case["personal_data_erased_at"] is not None:
        raise Problem("conflict", "The personal data of this case was already erased", reason="already_erased",
                      erased_at=case["personal_data_erased_at"].isoformat())
    after = erasable_after(case, retention)
    if after is None:
        raise Problem("conflict", "The case is still open: its personal data is needed to handle it",
                      reason="case_open", current_status=case["status"])
    if now < after:
        raise Problem("conflict", "The case is closed but still within its retention period",
                      reason="in_retention", erasable_from=after.isoformat())
