"""The case list: enterprises see the cases against them, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mediation.cases import service as cases_service
from mediation.cases.schemas import CaseList
from mediation.cases.state import CaseStatus
from mediation.dependencies import Cipher
from servicekit.auth import MerchantPrincipal
from servicekit.dependencies import DbSession
from servicekit.pagination import decode_cursor, encode_cursor
from servicekit.problems import Problem

router = APIRouter(prefix="/v1", tags=["cases"])


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
    return CaseList(items=[cases_service.case_read(case, cipher) for case in page.cases],
                    next_cursor=encode_cursor(page.last_id) if page.last_id else None)
