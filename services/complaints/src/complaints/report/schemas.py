"""Request bodies of the report (举报) track's regulator endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import StrictBool, StringConstraints

from complaints.complaint.schemas import Note, RequestBody, Text


class ReportDecisionIn(RequestBody):
    case_opened: StrictBool
    reason: Note


class ExtensionIn(RequestBody):
    """An extension of the report clock needs the approval of the bureau's head: who approved it, and why."""

    approved_by: Annotated[Text, StringConstraints(max_length=200)]
    reason: Note
