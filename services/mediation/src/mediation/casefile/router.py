"""One case with everything on its table: enterprises see cases against them, consumers their own, staff their
region's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from mediation.casefile.schemas import CaseDetail
from mediation.casefile.service import case_detail
from mediation.cases import service as cases_service
from mediation.cases.access import load_case_for
from mediation.dependencies import Cipher
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal, Principal, RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import DbSession

# The same tag as the case list: to clients these are one group of case endpoints.
router = APIRouter(prefix="/v1", tags=["cases"])


async def _detail(case_id: uuid.UUID, principal: Principal, session: DbSession, cipher: Cipher) -> CaseDetail:
    case, _ = await load_case_for(session, case_id, principal)
    return await case_detail(session, case, cipher)


@router.get("/merchant/cases/{case_id}", summary="One case against the calling enterprise")
async def get_merchant_case(case_id: uuid.UUID, principal: MerchantPrincipal, session: DbSession,
                            cipher: Cipher) -> CaseDetail:
    """404 for a case of another merchant, so ids of others' cases reveal nothing."""
    return await _detail(case_id, principal, session, cipher)


@router.get("/consumer/cases/{case_id}", summary="One of the calling consumer's cases")
async def get_consumer_case(case_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                            cipher: Cipher) -> CaseDetail:
    """404 for a case of another consumer."""
    return await _detail(case_id, principal, session, cipher)


@router.get("/regulator/cases/{case_id}", summary="A case of the caller's region, or the one it mediates")
async def get_regulator_case(case_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession,
                             cipher: Cipher) -> CaseDetail:
    """Regulator staff of the region and the assigned mediator; 404 for everyone else. Each read is logged."""
    case = await cases_service.read_as_staff(session, case_id=case_id, principal=principal, now=utcnow())
    return await case_detail(session, case, cipher)
