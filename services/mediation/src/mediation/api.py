"""Every router of the mediation service."""

from __future__ import annotations

from fastapi import APIRouter

from mediation.audit.router import router as audit_router
from mediation.casefile.router import router as casefile_router
from mediation.cases.router import router as cases_router
from mediation.fulfilment.router import router as fulfilment_router
from mediation.messages.router import router as messages_router
from mediation.negotiation.router import router as negotiation_router
from mediation.outcomes.router import router as outcomes_router
from mediation.personal_data.router import router as personal_data_router
from mediation.regulator.router import router as regulator_router

ROUTERS: list[APIRouter] = [
    cases_router, casefile_router, negotiation_router, messages_router, fulfilment_router, regulator_router,
    audit_router, outcomes_router, personal_data_router,
]
