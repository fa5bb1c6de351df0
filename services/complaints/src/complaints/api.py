"""Every router of the service, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from complaints.access.router import audit_router as regulator_reads_router
from complaints.access.router import consumer_router as consumer_access_router
from complaints.access.router import regulator_router as regulator_access_router
from complaints.complaint.router import (
    consumer_router,
    hotline_router,
    internal_router,
    merchant_router,
    regulator_router,
    reports_router,
)
from complaints.consultation.router import consumer_router as consumer_consultation_router
from complaints.consultation.router import regulator_router as regulator_consultation_router
from complaints.disclosure.router import public_router
from complaints.disclosure.router import regulator_router as regulator_disclosure_router
from complaints.evidence.router import consumer_router as consumer_evidence_router
from complaints.imports.router import regulator_router as regulator_import_router
from complaints.notifications.router import internal_router as sms_internal_router
from complaints.personal_data.router import consumer_router as consumer_personal_data_router
from complaints.regions import public_router as public_regions_router
from complaints.report.router import regulator_router as regulator_report_router
from complaints.station.router import station_router
from complaints.stats.router import regulator_router as regulator_stats_router
from complaints.summary.router import regulator_router as regulator_summary_router

ROUTERS: list[APIRouter] = [
    consumer_router, reports_router, consumer_evidence_router, regulator_router, station_router, hotline_router,
    consumer_access_router, regulator_access_router, regulator_reads_router, consumer_personal_data_router,
    consumer_consultation_router, regulator_consultation_router, regulator_import_router,
    regulator_summary_router, regulator_report_router, regulator_stats_router, regulator_disclosure_router,
    public_router, public_regions_router, internal_router, sms_internal_router, merchant_router,
]
