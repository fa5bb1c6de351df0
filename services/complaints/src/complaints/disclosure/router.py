"""GET /v1/regulator/export.csv (masked) and GET /v1/public/complaints (de-identified, Art. 38)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from complaints.complaint.enums import CaseStatus, ComplaintKind
from complaints.disclosure import service as disclosure_service
from complaints.disclosure.schemas import PublicComplaint, PublicComplaintList
from complaints.disclosure.service import Period, PublicFilter
from servicekit import regions
from servicekit.auth import RegulatorPrincipal
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, Runtime
from servicekit.pagination import decode_cursor, page_of
from servicekit.problems import Problem

regulator_router = APIRouter(prefix="/v1/regulator", tags=["regulator: statistics"])
public_router = APIRouter(prefix="/v1/public/complaints", tags=["public: disclosure"])

RegionQuery = Annotated[str | None, Query(pattern=r"^\d{6}$")]
DateQuery = Annotated[date | None, Query()]


def _period(start: date | None, end: date | None) -> Period:
    last = end or local_date(utcnow())
    first = start or date(last.year, 1, 1)
    if first > last:
        raise Problem("validation-error", "The period ends before it starts",
                      errors=[{"field": "query.from", "message": "after `to`", "code": "value_error"}])
    return Period(first, last)


@regulator_router.get("/export.csv", summary="Export cases as CSV, personal data masked",
                      response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_cases(
    principal: RegulatorPrincipal,
    runtime: Runtime,
    cipher: Cipher,
    region: RegionQuery = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
    kind: ComplaintKind | None = None,
    status: CaseStatus | None = None,
) -> StreamingResponse:
    """Every case filed in the period (default this year) in a region the caller governs and below, oldest first.
    Names show the first character only, phones as 138****8000; addresses, ID numbers and free text are left out."""
    scope = region or principal.region
    if scope is None or not principal.governs(scope):
        raise Problem("forbidden", "The token does not govern that region")
    period = _period(period_from, period_to)

    async def lines() -> AsyncIterator[str]:
        async with runtime.sessionmaker() as session:
            async for line in disclosure_service.export_rows(
                    session, region_prefix=regions.prefix(scope), period=period, kind=kind, status=status,
                    cipher=cipher):
                yield line

    filename = f"cases-{scope}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@public_router.get("", response_model=PublicComplaintList, summary="Closed complaints per enterprise (公示)",
                   responses={200: {"content": {"text/csv": {}}}})
async def list_public_complaints(
    runtime: Runtime,
    cipher: Cipher,
    merchant_id: uuid.UUID | None = None,
    region: RegionQuery = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    format: Literal["json", "csv"] = "json",
) -> Response | PublicComplaintList:
    """Complaints closed settled or terminated (Order 121 Art. 38), newest first, without any complainant data; the
    facts only where the consumer consented to disclosure. `answered_in_time` tells whether an ODR enterprise answered
    within its negotiation period (null when the complaint never went to one). `format=csv` gives the same page as
    CSV."""
    scope = PublicFilter(merchant_id=merchant_id, region_prefix=regions.prefix(region) if region else None,
                         sector=sector, period=_period(period_from, period_to))
    async with runtime.sessionmaker() as session:
        items = await disclosure_service.public_page(
            session, cipher, scope=scope, after=decode_cursor(cursor) if cursor else None, limit=limit + 1)
    page, next_cursor = page_of(items, limit, lambda item: item["id"])
    if format == "csv":
        return Response(disclosure_service.public_csv(page), media_type="text/csv; charset=utf-8",
                        headers={"X-Next-Cursor": next_cursor or ""})
    return PublicComplaintList(items=[PublicComplaint(**item) for item in page], next_cursor=next_cursor)
