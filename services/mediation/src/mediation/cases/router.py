"""The case list: enterprises see the cases against them, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mediation.cases import service as cases_service
from mediation.cases.schemas import CaseList, StaffCaseList
from mediation.cases.state import CaseStatus
from servicekit import regions
from servicekit.auth import MerchantPrincipal, RegulatorPrincipal
from servicekit.dependencies import Cipher, DbSession
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


@router.get("/regulator/cases", summary="A region's mediation cases, or the caller's own as mediator",
            responses={403: {"description": "The token does not govern that region"},
                       422: {"description": "A filter or the cursor is not valid"}})
async def list_regulator_cases(
    principal: RegulatorPrincipal,
    session: DbSession,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    mine: bool = False,
    status: CaseStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StaffCaseList:
    """Newest first, with each case's mediator and clocks and no personal data. `mine=true`: the cases assigned to
    the caller as mediator, wherever they are; otherwise the cases of `region` (default: the caller's), which the
    caller must govern, and of the regions below it."""
    if mine:
        region_prefix, mediator_id = None, principal.sub
    else:
        scope = region or principal.region
        if scope is None or not principal.governs(scope):
            raise Problem("forbidden", "The token does not govern that region")
        region_prefix, mediator_id = regions.prefix(scope), None
    page = await cases_service.list_staff_cases(
        session, region_prefix=region_prefix, mediator_id=mediator_id, status=status,
        before_id=decode_cursor(cursor) if cursor else None, limit=limit)
    return StaffCaseList(items=[cases_service.staff_summary(case) for case in page.cases],
                         next_cursor=encode_cursor(page.last_id) if page.last_id else None)
