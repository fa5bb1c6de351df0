"""Every router of the merchants service."""

from __future__ import annotations

from fastapi import APIRouter

from merchants.access.router import merchant_router as credentials_merchant_router
from merchants.access.router import principals_router
from merchants.access.router import router as credentials_router
from merchants.applications.router import public_router as applications_public_router
from merchants.applications.router import regulator_router as applications_regulator_router
from merchants.enrollment.router import router as enrollment_router
from merchants.portal.router import merchant_router as portal_merchant_router
from merchants.portal.router import public_router as portal_public_router
from merchants.scorecards.router import merchant_router as scorecard_merchant_router
from merchants.scorecards.router import public_router as scorecard_public_router
from merchants.scorecards.router import regulator_router as scorecard_regulator_router
from merchants.sessions.router import router as sessions_router
from merchants.staff.router import router as staff_router
from merchants.stations.router import public_router as stations_public_router
from merchants.stations.router import regulator_router as stations_regulator_router
from merchants.summons.router import router as summons_router
from merchants.webhooks.router import router as webhook_router
from merchants.workbench.router import router as workbench_router

ROUTERS: list[APIRouter] = [
    credentials_router,
    principals_router,
    sessions_router,
    credentials_merchant_router,
    applications_public_router,
    applications_regulator_router,
    enrollment_router,
    webhook_router,
    scorecard_merchant_router,
    scorecard_regulator_router,
    scorecard_public_router,
    stations_regulator_router,
    stations_public_router,
    summons_router,
    workbench_router,
    portal_merchant_router,
    portal_public_router,
    staff_router,
]
