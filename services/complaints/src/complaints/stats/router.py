"""GET /v1/regulator/stats: exact figures for a region (rolled up), a period and optional filters."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from complaints.complaint.enums import Channel, ComplaintKind, IssueType
from complaints.stats import service as stats_service
from complaints.stats.models import COUNTS
from complaints.stats.service import FIGURES, GroupBy, Scope, with_rates
from servicekit.auth import RegulatorPrincipal
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.dependencies import DbSession
from servicekit.problems import Problem

regulator_router = APIRouter(prefix="/v1/regulator/stats", tags=["regulator: statistics"])

_DEFINITIONS = "\n".join(f"- `{name}`: {text}" for name, text in FIGURES.items())


class Figures(BaseModel):
    """Counts and rates; each is defined in the endpoint's description."""

    received: int
    complaints: int
    reports: int
    accepted: int
    refused: int
    initial_reviews_due: int
    initial_reviews_on_time: int
    on_time_initial_review_rate: float
    closed: int
    closure_rate: float
    closed_on_time: int
    on_time_closure_rate: float
    settled: int
    terminated: int
    mediation_success_rate: float
    recovered_fen: int
    report_verifications_due: int
    report_verifications_on_time: int
    on_time_report_verification_rate: float
    consultations: int
    consultations_answered: int
    consultations_answered_on_time: int


class Group(Figures):
    key: str | None


class Stats(Figures):
    region: str
    period_from: date
    period_to: date
    groups: list[Group] | None = None


@regulator_router.get("", response_model=Stats, summary="Statistics of a region and the regions below it",
                      description=(
                          "Exact figures over the cases filed from `from` to `to` (local dates, both included; default "
                          "this year so far) in `region` (default: the caller's) and every region below it. Optional "
                          "filters: kind, sector, channel, issue_type, merchant_id; `group_by` adds the same "
                          "figures per region one level down, kind, sector, channel, issue type, merchant or "
                          "month.\n\n" + _DEFINITIONS))
async def region_stats(
    principal: RegulatorPrincipal,
    session: DbSession,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
    kind: ComplaintKind | None = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    channel: Channel | None = None,
    merchant_id: uuid.UUID | None = None,
    issue_type: IssueType | None = None,
    group_by: GroupBy | None = None,
) -> Stats:
    """Figures for a region the caller governs; 403 for any other."""
    scope_region = region or principal.region
    if scope_region is None or not principal.governs(scope_region):
        raise Problem("forbidden", "The token does not govern that region")
    today = local_date(utcnow())
    end = period_to or today
    start = period_from or end.replace(month=1, day=1)
    if start > end:
        raise Problem("validation-error", "The period ends before it starts",
                      errors=[{"field": "query.from", "message": "after `to`", "code": "value_error"}])
    scope = Scope(region=scope_region, start=start, end=end, kind=kind, sector=sector, channel=channel,
                  merchant_id=merchant_id, issue_type=issue_type)
    groups: list[Group] | None = None
    if group_by is None:
        [(_, totals)] = await stats_service.compute(session, scope, None)
    else:
        grouped = await stats_service.compute(session, scope, group_by)
        groups = [Group(key=key, **figures) for key, figures in grouped]
        # Every case in scope falls in exactly one group, so the counts of the groups add up to the totals.
        totals = with_rates({name: sum(figures[name] for _, figures in grouped) for name in COUNTS})
    result: dict[str, Any] = {**totals, "region": scope_region, "period_from": start, "period_to": end}
    return Stats(**result, groups=groups)
