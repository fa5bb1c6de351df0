"""GET /v1/regulator/reports/summary: the period report as JSON, CSV or a printable page."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from complaints.summary import service as summary_service
from servicekit.auth import RegulatorPrincipal
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.dependencies import DbSession
from servicekit.problems import Problem

regulator_router = APIRouter(prefix="/v1/regulator/reports", tags=["regulator: statistics"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


class ComplaintFigures(BaseModel):
    received: int
    accepted: int
    refused: int
    closed: int
    closure_rate: float
    initial_reviews_due: int
    initial_reviews_on_time: int
    on_time_initial_review_rate: float
    settled: int
    terminated: int
    mediation_success_rate: float
    recovered_fen: int


class ReportFigures(BaseModel):
    received: int
    closed: int
    closure_rate: float
    verifications_due: int
    verifications_on_time: int
    on_time_verification_rate: float


class ConsultationFigures(BaseModel):
    received: int
    answered: int
    answered_on_time: int
    answer_rate: float


class GroupFigures(BaseModel):
    """One sector, channel or issue type; the key is in the field named after the dimension."""

    name: str | None
    received: int
    complaints: int
    reports: int
    consultations: int
    closed: int
    recovered_fen: int


class SectorFigures(GroupFigures):
    sector: str | None


class ChannelFigures(GroupFigures):
    channel: str | None


class IssueTypeFigures(GroupFigures):
    issue_type: str | None


class OdrFigures(BaseModel):
    enrolled: int
    with_complaints: int
    complaints: int
    settled: int
    closed: int
    recovered_fen: int


class StationFigures(BaseModel):
    with_cases: int
    cases: int
    closed: int
    settled: int
    recovered_fen: int
    consultations: int


class AuditFigures(BaseModel):
    """Reviews of mediation outcomes recorded on the period's days (mediation's review queue, issue 15)."""

    cases_reviewed: int = Field(description="Cases with at least one review recorded in the period.")
    reviews: int = Field(description="Reviews recorded in the period (a case signalled again is reviewed again).")
    findings: int = Field(description="Reviews with an outcome other than `confirmed`.")
    confirmed: int
    consumer_called_back: int
    referred_for_enforcement: int
    agreement_reopened_with_consent: int


class PeriodReport(BaseModel):
    region: str
    region_name: str | None
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    complaints: ComplaintFigures
    reports: ReportFigures
    consultations: ConsultationFigures
    total_received: int
    by_sector: list[SectorFigures]
    by_channel: list[ChannelFigures]
    by_issue_type: list[IssueTypeFigures]
    odr_enterprises: OdrFigures
    audit: AuditFigures
    stations: StationFigures


@regulator_router.get(
    "/summary", response_model=PeriodReport, response_model_by_alias=True,
    summary="The period report (工作报告 figures) of a region",
    responses={200: {"content": {"text/csv": {}, "text/html": {}},
                     "description": "JSON; CSV with `format=csv` or `Accept: text/csv`; a printable page with "
                                    "`format=html` or `Accept: text/html`"}},
    description=(
        "The figures of a bureau's yearly report for the cases filed from `from` to `to` (local dates, both "
        "included; default this year so far) in `region` (default: the caller's) and below. Every figure is the "
        "statistics' figure of the same name (GET /v1/regulator/stats, whose description defines them): "
        "`complaints` counts kind=complaint (its `received` is the stats' `complaints`), `reports` kind=report, "
        "`consultations` the consultations (咨询), `complaints.recovered_fen` is the stats' `recovered_fen`. "
        "`total_received` = complaints + reports + consultations. `odr_enterprises.enrolled` counts the ODR "
        "enterprises of the region active today; the other ODR figures count complaints naming an ODR enterprise. "
        "`stations` counts cases filed by service-station staff (channel `station`). `by_issue_type` is the "
        "statistics' group_by=issue_type (consultations have none and count under `other`). `audit` counts the "
        "reviews of mediation outcomes recorded on the period's days (by review day, not filing day), as mediation's "
        "`reviewed` events told this service. Excel: open the CSV "
        "(UTF-8 with BOM)."))
async def period_report(
    principal: RegulatorPrincipal,
    session: DbSession,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
    output: Annotated[ReportFormat | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The report for a region the caller governs; 403 for any other."""
    scope = region or principal.region
    if scope is None or not principal.governs(scope):
        raise Problem("forbidden", "The token does not govern that region")
    end = period_to or local_date(utcnow())
    start = period_from or end.replace(month=1, day=1)
    if start > end:
        raise Problem("validation-error", "The period ends before it starts",
                      errors=[{"field": "query.from", "message": "after `to`", "code": "value_error"}])
    report: dict[str, Any] = await summary_service.summarize(session, region=scope, start=start, end=end)
    chosen = output or _negotiated(accept)
    filename = f"report-{scope}-{start:%Y%m%d}-{end:%Y%m%d}"
    if chosen is ReportFormat.CSV:
        return Response(summary_service.to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    if chosen is ReportFormat.HTML:
        return HTMLResponse(summary_service.to_html(report))
    return JSONResponse(PeriodReport.model_validate(report).model_dump(mode="json", by_alias=True))


def _negotiated(accept: str | None) -> ReportFormat:
    """text/csv or text/html when the Accept header asks for it before JSON; JSON otherwise."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media == "text/csv":
            return ReportFormat.CSV
        if media == "text/html":
            return ReportFormat.HTML
        if media in ("application/json", "*/*", "application/*"):
            return ReportFormat.JSON
    return ReportFormat.JSON
