"""The complaints service: `uvicorn complaints.main:create_app --factory`."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from complaints.api import ROUTERS
from complaints.database import outbox
from complaints.dependencies import CASE_CHANGES, EVIDENCE_STORE
from complaints.evidence.storage import evidence_store
from complaints.jobs import background_jobs
from complaints.live import CaseChanges
from complaints.settings import ComplaintsSettings
from servicekit import calendar
from servicekit.app import ServiceRuntime, create_service_app
from servicekit.calendar import local_date
from servicekit.db import utcnow

DESCRIPTION = """Intake, jurisdiction, routing, regulator decisions, statutory deadlines and timeline of consumer
complaints (投诉) and reports (举报) under SAMR Order 121.

Complaint statuses: submitted -> with_merchant (ODR negotiation, 10 working days unless the region set another
period) | pending_acceptance (the regulator decides within 7 working days) -> accepted (regulator mediation) ->
closed_settled | closed_terminated; or closed_refused (Art. 16 ground 1-7); withdrawn by the consumer from any open
status. Report statuses: received -> verifying -> case_opened | not_opened (15 working days, +15 on approval).
Invalid moves answer 409.
"""


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    """Build the service from `settings` (from the environment when not given)."""
    settings = settings or ComplaintsSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[EVIDENCE_STORE] = evidence_store(settings)
        runtime.extras[CASE_CHANGES] = CaseChanges(runtime.engine)
        calendar.preload(local_date(utcnow()))

    return create_service_app(
        settings=settings,
        title="ODR complaints",
        description=DESCRIPTION,
        routers=ROUTERS,
        outbox_table=outbox,
        background=partial(background_jobs, settings=settings),
        on_startup=on_startup,
    )
