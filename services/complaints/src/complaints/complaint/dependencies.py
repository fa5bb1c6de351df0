"""Request-scoped dependencies of the complaint domain (`async def`, like those in complaints.dependencies)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from complaints.complaint.flags import FlagRules
from complaints.settings import ComplaintsSettings
from servicekit.app import get_runtime


async def _flag_rules(request: Request) -> FlagRules:
    settings = get_runtime(request).settings
    assert isinstance(settings, ComplaintsSettings)
    return FlagRules(repeat_threshold=settings.repeat_complaints_threshold,
                     window=timedelta(days=settings.repeat_complaints_window_days))


Rules = Annotated[FlagRules, Depends(_flag_rules)]
