"""Scorecards: the enterprise's own, its regulator's view of the region, suspension proposals, the public list."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import ColumnElement, select

from merchants.dependencies import Enterprise, Regulator, Settings
from merchants.enrollment.models import Enrollment
from merchants.enrollment.state import EnrollmentStatus
from merchants.registry.models import Merchant
from merchants.scorecards import service as scorecard_service
from merchants.scorecards.models import FlagLevel, ScorecardFlag
from merchants.scorecards.schemas import (
    Decision,
    FlagRead,
    OrderVolumeRead,
    OrderVolumeReport,
    ProposalRead,
    PublicEnterprise,
    PublicEnterpriseList,
    Scorecard,
    ScorecardList,
)
from merchants.scorecards.service import Period, local_today
from servicekit import regions
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize, decode_cursor, page_of
from servicekit.problems import Problem, problem_responses

merchant_router = APIRouter(prefix="/v1/merchant/scorecard", tags=["merchant: scorecard"])
regulator_router = APIRouter(prefix="/v1/regulator", tags=["regulator: scorecards"])
public_router = APIRouter(prefix="/v1/public/odr-enterprises", tags=["public: ODR enterprises"])

MAX_PERIOD_DAYS = 366
FromDate = Annotated[date | None, Query(alias="from", description="First local date (default: window before `to`)")]
ToDate = Annotated[date | None, Query(alias="to", description="Last local date, included (default: today)")]


def _period(start: date | None, end: date | None, settings: Settings) -> Period:
    end = end or local_today(utcnow())
    period = Period(start=start, end=end) if start else Period.ending(end, settings.scorecard_window_days)
    if period.start > period.end or (period.end - period.start).days >= MAX_PERIOD_DAYS:
        raise Problem("validation-error", errors=[{"field": "query.from", "code": "period_invalid",
                                                   "message": f"from must be <= to and span at most "
                                                              f"{MAX_PERIOD_DAYS} days"}])
    return period


def _region_condition(code: str) -> ColumnElement[bool]:
    return Merchant.region_code.startswith(regions.prefix(code), autoescape=True)


@merchant_router.get("", response_model=Scorecard, summary="The calling enterprise's scorecard")
async def my_scorecard(principal: Enterprise, session: DbSession, settings: Settings, cipher: Cipher,
                       start: FromDate = None, end: ToDate = None) -> Scorecard:
    """Cases routed to it in the period and how they went, with any open warning."""
    cards = await scorecard_service.scorecards(session, period=_period(start, end, settings),
                                               where=[Merchant.id == principal.merchant_id], cipher=cipher)
    if not cards:
        raise Problem("not-found", "The enterprise is not enrolled")
    return cards[0]


@merchant_router.put("/orders/{month}", response_model=OrderVolumeRead,
                     summary="Report the month's order count (complaints are then also shown per 1,000 orders)")
async def report_orders(month: Annotated[str, Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
                        body: OrderVolumeReport, principal: Enterprise, session: DbSession) -> OrderVolumeRead:
    """Replaces an earlier report for the same month."""
    first_day = date.fromisoformat(f"{month}-01")
    await scorecard_service.report_orders(session, merchant_id=principal.merchant_id, month=first_day,
                                          orders=body.orders)
    return OrderVolumeRead(month=month, orders=body.orders)


@regulator_router.get("/scorecards", response_model=ScorecardList, summary="Scorecards of my regions' enterprises")
async def region_scorecards(principal: Regulator, session: DbSession, settings: Settings, cipher: Cipher,
                            start: FromDate = None, end: ToDate = None, cursor: str | None = None,
                            limit: PageSize = 50) -> ScorecardList:
    """Every approved or suspended ODR enterprise in the regions the regulator governs."""
    where = [_region_condition(principal.region or "")]
    if cursor:
        where.append(Merchant.id > decode_cursor(cursor))
    cards = await scorecard_service.scorecards(session, period=_period(start, end, settings), where=where,
                                               cipher=cipher, limit=limit + 1)
    page, next_cursor = page_of(cards, limit, lambda card: card.merchant_id)
    return ScorecardList(items=list(page), next_cursor=next_cursor)


@regulator_router.get("/suspension-proposals", response_model=list[ProposalRead],
                      summary="Suspension proposals from scorecards, awaiting my decision",
                      responses=problem_responses(401, 403, 422))
async def proposals(principal: Regulator, session: DbSession, cipher: Cipher,
                    include_resolved: bool = False) -> list[ProposalRead]:
    """Open proposals (and decided ones with include_resolved) for enterprises of my regions, with their names."""
    query = (select(ScorecardFlag, Merchant.name, Merchant.region_code)
             .join(Merchant, Merchant.id == ScorecardFlag.merchant_id)
             .where(ScorecardFlag.level == FlagLevel.SUSPENSION_PROPOSED.value,
                    _region_condition(principal.region or "")).order_by(ScorecardFlag.raised_at))
    if not include_resolved:
        query = query.where(ScorecardFlag.resolved_at.is_(None))
    return [ProposalRead(**scorecard_service.flag_read(flag, cipher).model_dump(), merchant_name=name,
                         region_code=region) for flag, name, region in (await session.execute(query)).all()]


@regulator_router.post("/suspension-proposals/{proposal_id}/confirm", response_model=FlagRead,
                       summary="Confirm: the enterprise is suspended",
                       responses=problem_responses(401, 403, 404, 409, 422))
async def confirm(proposal_id: uuid.UUID, body: Decision, principal: Regulator, session: DbSession,
                  runtime: Runtime, cipher: Cipher) -> FlagRead:
    """Suspends the enterprise (merchants.enrollment.suspended.v1) and closes the proposal."""
    flag = await scorecard_service.confirm_proposal(session, outbox=runtime.outbox, proposal_id=proposal_id,
                                                    principal=principal, reason=body.reason, now=utcnow(),
                                                    cipher=cipher)
    return scorecard_service.flag_read(flag, cipher)


@regulator_router.post("/suspension-proposals/{proposal_id}/dismiss", response_model=FlagRead,
                       summary="Dismiss: the enterprise stays approved",
                       responses=problem_responses(401, 403, 404, 409, 422))
async def dismiss(proposal_id: uuid.UUID, body: Decision, principal: Regulator, session: DbSession,
                  cipher: Cipher) -> FlagRead:
    """Closes the proposal with the reason."""
    flag = await scorecard_service.dismiss_proposal(session, proposal_id=proposal_id, principal=principal,
                                                    reason=body.reason, now=utcnow(), cipher=cipher)
    return scorecard_service.flag_read(flag, cipher)


@public_router.get("", response_model=PublicEnterpriseList, summary="ODR enterprises and their scorecards")
async def public_enterprises(session: DbSession, settings: Settings, region: str | None = None,
                             cursor: str | None = None, limit: PageSize = 50) -> PublicEnterpriseList:
    """Approved ODR enterprises (optionally of one region and below) with their scorecard of the default window."""
    where: list[ColumnElement[bool]] = [Enrollment.status == EnrollmentStatus.APPROVED]
    if region is not None:
        if not regions.is_known(region):
            raise Problem("validation-error", errors=[{"field": "query.region", "code": "region_unknown",
                                                       "message": f"{region!r} is not a known GB/T 2260 region"}])
        where.append(_region_condition(region))
    if cursor:
        where.append(Merchant.id > decode_cursor(cursor))
    cards = await scorecard_service.scorecards(session, period=_period(None, None, settings), where=where,
                                               limit=limit + 1)
    page, next_cursor = page_of(cards, limit, lambda card: card.merchant_id)
    details = {row.id: row for row in (await session.execute(
        select(Merchant.id, Merchant.uscc, Merchant.sector).where(Merchant.id.in_([card.merchant_id
                                                                                   for card in page])))).all()}
    items = [PublicEnterprise(merchant_id=card.merchant_id, name=card.name, uscc=details[card.merchant_id].uscc,
                              region_code=card.region_code, sector=details[card.merchant_id].sector, scorecard=card)
             for card in page]
    return PublicEnterpriseList(items=items, next_cursor=next_cursor)
