"""HTTP endpoints of the report (举报) track for regulators."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint import service as complaint_service
from complaints.complaint.dependencies import Rules
from complaints.complaint.flags import FlagRules
from complaints.complaint.schemas import ComplaintRead
from complaints.dependencies import Events
from complaints.report import service as report_service
from complaints.report.schemas import ExtensionIn, ReportDecisionIn
from servicekit.auth import BureauPrincipal, Principal
from servicekit.dependencies import Cipher, DbSession
from servicekit.pii import PiiCipher

regulator_router = APIRouter(prefix="/v1/regulator/reports", tags=["regulator: reports"])


@regulator_router.post("/{report_id}/verification", response_model=ComplaintRead, summary="Start verifying",
                       responses={409: {"description": "The report is not received"}})
async def start_report_verification(report_id: uuid.UUID, principal: BureauPrincipal, session: DbSession,
                                    cipher: Cipher, rules: Rules, publisher: Events) -> ComplaintRead:
    """received -> verifying."""
    await report_service.start_verification(session, case_id=report_id, principal=principal, publisher=publisher)
    return await _view(session, report_id, principal, cipher, rules)


@regulator_router.post("/{report_id}/decision", response_model=ComplaintRead, summary="Open a case (立案) or not",
                       responses={409: {"description": "The report was decided already"}})
async def decide_report(report_id: uuid.UUID, body: ReportDecisionIn, principal: BureauPrincipal,
                        session: DbSession, cipher: Cipher, rules: Rules, publisher: Events) -> ComplaintRead:
    """received or verifying -> case_opened or not_opened, with the reason; due within 15 working days of receipt
    (30 when extended). A late decision is recorded and its clock stays breached."""
    await report_service.decide(session, case_id=report_id, principal=principal, body=body, publisher=publisher)
    return await _view(session, report_id, principal, cipher, rules)


@regulator_router.post("/{report_id}/extension", response_model=ComplaintRead, summary="Extend verification +15 WD",
                       responses={409: {"description": "Already extended, or the clock is not running"}})
async def extend_report_verification(report_id: uuid.UUID, body: ExtensionIn, principal: BureauPrincipal,
                                     session: DbSession, cipher: Cipher, rules: Rules,
                                     publisher: Events) -> ComplaintRead:
    """Adds 15 working days to the report_verification clock, once, with the approver's name and the reason."""
    await report_service.extend_clock(session, case_id=report_id, principal=principal, body=body,
                                      publisher=publisher)
    return await _view(session, report_id, principal, cipher, rules)


async def _view(session: AsyncSession, report_id: uuid.UUID, principal: Principal, cipher: PiiCipher,
                rules: FlagRules) -> ComplaintRead:
    found = await complaint_service.get_for_regulator(session, complaint_id=report_id, principal=principal,
                                                      cipher=cipher, rules=rules)
    return found.detail
