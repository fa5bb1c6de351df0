"""The parties' view of their cases: enterprises see cases against them, consumers their own."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

from mediation.cases import service as cases_service
from mediation.cases.models import MediationCase, complainant_name_context
from mediation.cases.schemas import CaseList, CaseRead, CaseRequestRead, ComplainantRead, DeadlineRead
from mediation.cases.state import CaseStatus, DeadlineKind, negotiation_deadline_state
from mediation.dependencies import Cipher, DbSession
from mediation.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["cases"])

NOT_FOUND = "No such case"


def case_read(case: MediationCase, cipher: PiiCipher) -> CaseRead:
    """The shared view of a case; the complainant's name is decrypted only here."""
    status = CaseStatus(case.status)
    deadlines = []
    if case.due_date is not None:
        state = negotiation_deadline_state(status, case.due_date, local_date(utcnow()))
        deadlines.append(DeadlineRead(kind=DeadlineKind.MERCHANT_NEGOTIATION, due_date=case.due_date, state=state))
    return CaseRead(
        id=case.id,
        complaint_id=case.complaint_id,
        case_no=case.case_no,
        status=status,
        merchant_id=case.merchant_id,
        region_code=case.region_code,
        deadlines=deadlines,
        complainant=ComplainantRead(
            name=cipher.decrypt(case.complainant_name, context=complainant_name_context(case.id)),
            phone_masked=case.complainant_phone_masked,
        ),
        request=CaseRequestRead(type=case.request_type, amount_fen=case.request_amount_fen),
        facts=case.facts,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
    )


@router.get("/merchant/cases", summary="Cases against the calling enterprise, newest first")
async def list_merchant_cases(
    principal: MerchantPrincipal,
    session: DbSession,
    cipher: Cipher,
    status: CaseStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CaseList:
    """Only cases whose merchant is the token's merchant."""
    if principal.merchant_id is None:
        raise Problem("forbidden", "The token names no merchant")
    page = await cases_service.list_merchant_cases(
        session, merchant_id=principal.merchant_id, status=status,
        before_id=decode_cursor(cursor) if cursor else None, limit=limit)
    return CaseList(items=[case_read(case, cipher) for case in page.cases],
                    next_cursor=encode_cursor(page.last_id) if page.last_id else None)


@router.get("/merchant/cases/{case_id}", summary="One case against the calling enterprise")
async def get_merchant_case(case_id: uuid.UUID, principal: MerchantPrincipal, session: DbSession,
                            cipher: Cipher) -> CaseRead:
    """404 for a case of another merchant, so ids of others' cases reveal nothing."""
    case = await cases_service.get_case(session, case_id)
    if case is None or principal.merchant_id is None or case.merchant_id != principal.merchant_id:
        raise Problem("not-found", NOT_FOUND)
    return case_read(case, cipher)


@router.get("/consumer/cases/{case_id}", summary="One of the calling consumer's cases")
async def get_consumer_case(case_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                            cipher: Cipher) -> CaseRead:
    """404 for a case of another consumer."""
    case = await cases_service.get_case(session, case_id)
    if case is None or case.consumer_id != principal.sub:
        raise Problem("not-found", NOT_FOUND)
    return case_read(case, cipher)
