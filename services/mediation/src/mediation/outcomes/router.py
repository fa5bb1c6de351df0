"""Outcome auditing for regulator staff: outcome records, signals, thresholds, the review queue and its figures."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from mediation.dependencies import OutboxDep
from mediation.outcomes import service as outcomes_service
from mediation.outcomes.models import SignalKind
from mediation.outcomes.schemas import (
    OutcomeList,
    OutcomeRecord,
    PeriodFigures,
    QueueState,
    ReviewItemList,
    ReviewItemRead,
    ReviewOutcomeCreate,
    SignalList,
    ThresholdsRead,
    ThresholdValues,
)
from servicekit.auth import RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession
from servicekit.pagination import decode_cursor, encode_cursor
from servicekit.problems import CATALOG, PROBLEM_CONTENT_TYPE

router = APIRouter(prefix="/v1/regulator/audit", tags=["outcome audit"])

Region = Annotated[str, Query(pattern=r"^\d{6}$", description="GB/T 2260 region code: this region and those below")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page")]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["type", "title", "status"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object", "properties": {
                       "field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}}}}},
}
_TITLES = {status: title for status, title, _ in CATALOG.values()}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: each error status answered as application/problem+json (RFC 9457)."""
    return {status: {"description": _TITLES[status], "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}}
            for status in (401, 403, 422, *statuses)}


def _cursor(cursor: str | None) -> uuid.UUID | None:
    return decode_cursor(cursor) if cursor else None


def _next(last_id: uuid.UUID | None) -> str | None:
    return encode_cursor(last_id) if last_id else None


@router.get("/outcomes", summary="Outcome records of the closed cases of a region and below, newest first",
            responses=problems())
async def list_outcomes(region: Region, principal: RegulatorPrincipal, session: DbSession,
                        merchant_id: uuid.UUID | None = None, cursor: Cursor = None, limit: Limit = 50) -> OutcomeList:
    """Asked against agreed, days to close, who settled it, fulfilment, the consumer's rating and the signals; the
    complaints a service station settled on the spot are listed too (`settled_by` station, `case_id` null)."""
    page = await outcomes_service.list_outcomes(session, principal=principal, region=region, merchant_id=merchant_id,
                                                before_id=_cursor(cursor), limit=limit)
    return OutcomeList(items=page.items, next_cursor=_next(page.last_id))


@router.get("/outcomes/{case_id}", summary="The outcome record of one closed case", responses=problems(404))
async def get_outcome(case_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession) -> OutcomeRecord:
    """404 for an open case or one outside the caller's regions."""
    return await outcomes_service.get_outcome(session, principal=principal, case_id=case_id)


@router.get("/signals", summary="Signals raised on the cases of a region and below, newest first",
            responses=problems())
async def list_signals(region: Region, principal: RegulatorPrincipal, session: DbSession,
                       signal: SignalKind | None = None, case_id: uuid.UUID | None = None, cursor: Cursor = None,
                       limit: Limit = 50) -> SignalList:
    """The rule of each signal: `GET /v1/regulator/audit/thresholds` (`rules`)."""
    page = await outcomes_service.list_signals(session, principal=principal, region=region, kind=signal,
                                               case_id=case_id, before_id=_cursor(cursor), limit=limit)
    return SignalList(items=page.items, next_cursor=_next(page.last_id))


@router.get("/thresholds", summary="A region's signal thresholds, where each comes from, and the rules",
            responses=problems())
async def get_thresholds(region: Region, principal: RegulatorPrincipal, session: DbSession) -> ThresholdsRead:
    """Each setting from the region, else its nearest ancestor that sets it, else the default."""
    return await outcomes_service.read_thresholds(session, principal=principal, region=region)


@router.put("/thresholds", summary="Set a region's own thresholds; omitted or null settings are inherited",
            responses=problems())
async def put_thresholds(region: Region, body: ThresholdValues, principal: RegulatorPrincipal,
                         session: DbSession) -> ThresholdsRead:
    """Replaces the region's own row; regions below inherit whatever they do not set themselves."""
    return await outcomes_service.set_thresholds(session, principal=principal, region=region, body=body, now=utcnow())


@router.get("/queue", summary="The review queue: cases with signals and cases drawn by the Art. 26 sample",
            responses=problems())
async def list_queue(region: Region, principal: RegulatorPrincipal, session: DbSession, cipher: Cipher,
                     state: QueueState | None = None,
                     signal: Annotated[SignalKind | None, Query(description="Only items raised by this signal")] = None,
                     sampled: Annotated[bool | None, Query(description="Only items the Art. 26 sample drew (true) "
                                                                       "or did not (false)")] = None,
                     cursor: Cursor = None, limit: Limit = 50) -> ReviewItemList:
    """One open item per case; newest first."""
    page = await outcomes_service.list_queue(session, principal=principal, region=region, state=state,
                                             signal=signal, sampled=sampled, before_id=_cursor(cursor), limit=limit,
                                             cipher=cipher)
    return ReviewItemList(items=page.items, next_cursor=_next(page.last_id))


@router.get("/queue/{review_id}", summary="One item of the review queue", responses=problems(404))
async def get_review(review_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession,
                     cipher: Cipher) -> ReviewItemRead:
    return await outcomes_service.get_review(session, principal=principal, review_id=review_id, cipher=cipher)


@router.post("/queue/{review_id}/outcome", summary="Record the review's outcome (appended to the audit chain)",
             responses=problems(404, 409))
async def record_outcome(review_id: uuid.UUID, body: ReviewOutcomeCreate, principal: RegulatorPrincipal,
                         session: DbSession, outbox: OutboxDep, cipher: Cipher) -> ReviewItemRead:
    """409 once an outcome was recorded; a later signal on the case opens a new item."""
    return await outcomes_service.record_outcome(session, outbox=outbox, cipher=cipher, principal=principal,
                                                 review_id=review_id, outcome=body.outcome, note=body.note,
                                                 now=utcnow())


@router.get("/figures", summary="Cases reviewed, outcomes and signals of a period, in total and per enterprise",
            responses=problems())
async def get_figures(region: Region, principal: RegulatorPrincipal, session: DbSession,
                      start: Annotated[date, Query(alias="from", description="First local day (Asia/Shanghai)")],
                      end: Annotated[date, Query(alias="to", description="Last local day, included")]
                      ) -> PeriodFigures:
    """For the period report and the enterprises' scorecards."""
    return await outcomes_service.figures(session, principal=principal, region=region, start=start, end=end)
