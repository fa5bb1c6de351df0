"""Regulator statistics, computed exactly in one SQL statement over case rows and their clocks.

Every figure counts cases filed in the period (local dates in Asia/Shanghai, both ends included) in the region and
every region below it (GB/T 2260 code prefix), after the optional filters. The definitions, also given in the API
description, are in FIGURES.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, Table, and_, cast, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enums import (
    Channel,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    DeadlineState,
)
from complaints.complaint.models import Complaint, Deadline
from servicekit import regions
from servicekit.calendar import ZONE, end_of_day

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
deadline_table: Table = Deadline.__table__  # type: ignore[assignment]

FIGURES: dict[str, str] = {
    "received": "cases received: complaints and reports (a submission of both counts once for each part)",
    "complaints": "complaints (投诉) received",
    "reports": "reports (举报) received",
    "accepted": "complaints the regulator accepted for mediation (Art. 15)",
    "refused": "complaints the regulator refused (不予受理, Art. 16 ground 1-7)",
    "initial_reviews_due": "initial-review clocks (7 working days to accept or refuse) that were met or ran out; a "
                           "clock ended by withdrawal or still running is not counted",
    "initial_reviews_on_time": "of those, decided by the end of the due date",
    "on_time_initial_review_rate": "按时初查率: initial_reviews_on_time / initial_reviews_due (0 when none are due)",
    "closed": "cases concluded: complaints settled, terminated, refused or withdrawn; reports decided",
    "closure_rate": "办结率: closed / received",
    "closed_on_time": "closed cases none of whose clocks ran out",
    "on_time_closure_rate": "closed_on_time / closed",
    "settled": "complaints closed settled (negotiation or mediation agreement)",
    "terminated": "complaints whose regulator mediation was terminated (Art. 23)",
    "mediation_success_rate": "settled / (settled + terminated)",
    "recovered_fen": "money recovered for consumers by settlements, in fen",
    "report_verifications_due": "report-verification clocks (15 working days, +15 on approval) that were met or "
                                "ran out",
    "report_verifications_on_time": "of those, decided by the end of the (extended) due date",
    "on_time_report_verification_rate": "report_verifications_on_time / report_verifications_due",
}

COUNTS = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due", "initial_reviews_on_time",
          "closed", "closed_on_time", "settled", "terminated", "recovered_fen", "report_verifications_due",
          "report_verifications_on_time")


class GroupBy(StrEnum):
    REGION = "region"
    KIND = "kind"
    SECTOR = "sector"
    CHANNEL = "channel"
    MERCHANT = "merchant"
    MONTH = "month"


@dataclass(frozen=True)
class Scope:
    """What to count: region (rolled up), period and filters."""

    region: str
    start: date
    end: date
    kind: ComplaintKind | None = None
    sector: str | None = None
    channel: Channel | None = None
    merchant_id: uuid.UUID | None = None


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def with_rates(counts: dict[str, int]) -> dict[str, Any]:
    """The counts and the rates derived from them."""
    return {
        **counts,
        "on_time_initial_review_rate": _ratio(counts["initial_reviews_on_time"], counts["initial_reviews_due"]),
        "closure_rate": _ratio(counts["closed"], counts["received"]),
        "on_time_closure_rate": _ratio(counts["closed_on_time"], counts["closed"]),
        "mediation_success_rate": _ratio(counts["settled"], counts["settled"] + counts["terminated"]),
        "on_time_report_verification_rate": _ratio(counts["report_verifications_on_time"],
                                                   counts["report_verifications_due"]),
    }


def _group_key(group_by: GroupBy, region: str) -> ColumnElement[Any]:
    c = complaint_table.c
    if group_by is GroupBy.REGION:
        # One level down: a province groups by prefecture, a prefecture (or county) by county.
        if regions.get(region) is not None and regions.prefix(region) == region[:2]:
            return func.substr(c.region_code, 1, 4) + literal("00")
        return c.region_code
    if group_by is GroupBy.MERCHANT:
        return cast(c.merchant_id, String)
    if group_by is GroupBy.MONTH:
        return func.to_char(func.timezone(str(ZONE), c.filed_at), "YYYY-MM")
    return {GroupBy.KIND: c.kind, GroupBy.SECTOR: c.sector, GroupBy.CHANNEL: c.channel}[group_by]


async def compute(session: AsyncSession, scope: Scope,
                  group_by: GroupBy | None) -> list[tuple[str | None, dict[str, Any]]]:
    """[(group key or None, figures)]; one row without a key when not grouped."""
    c = complaint_table.c
    d = deadline_table.c
    clocks = (
        select(
            func.bool_or(d.state == DeadlineState.BREACHED.value).label("breached"),
            *(func.count().filter(and_(d.kind == kind.value, d.state.in_(
                [DeadlineState.MET.value, DeadlineState.BREACHED.value]))).label(f"{name}_due")
              for name, kind in (("ir", DeadlineKind.INITIAL_REVIEW), ("rv", DeadlineKind.REPORT_VERIFICATION))),
            *(func.count().filter(and_(d.kind == kind.value, d.state == DeadlineState.MET.value,
                                       d.met_at <= d.due_at)).label(f"{name}_on_time")
              for name, kind in (("ir", DeadlineKind.INITIAL_REVIEW), ("rv", DeadlineKind.REPORT_VERIFICATION))),
        ).where(d.complaint_id == c.id).lateral("clocks")
    )
    closed = c.closed_at.is_not(None)
    figures = [
        func.count().label("received"),
        func.count().filter(c.kind == ComplaintKind.COMPLAINT.value).label("complaints"),
        func.count().filter(c.kind == ComplaintKind.REPORT.value).label("reports"),
        func.count().filter(c.accepted_at.is_not(None)).label("accepted"),
        func.count().filter(c.refusal_ground.is_not(None)).label("refused"),
        func.coalesce(func.sum(clocks.c.ir_due), 0).label("initial_reviews_due"),
        func.coalesce(func.sum(clocks.c.ir_on_time), 0).label("initial_reviews_on_time"),
        func.count().filter(closed).label("closed"),
        func.count().filter(and_(closed, func.coalesce(clocks.c.breached, False).is_(False))).label("closed_on_time"),
        func.count().filter(c.status == ComplaintStatus.CLOSED_SETTLED.value).label("settled"),
        func.count().filter(c.status == ComplaintStatus.CLOSED_TERMINATED.value).label("terminated"),
        func.coalesce(func.sum(c.recovered_fen), 0).label("recovered_fen"),
        func.coalesce(func.sum(clocks.c.rv_due), 0).label("report_verifications_due"),
        func.coalesce(func.sum(clocks.c.rv_on_time), 0).label("report_verifications_on_time"),
    ]
    conditions = [
        c.region_code.startswith(regions.prefix(scope.region), autoescape=True),
        c.filed_at >= end_of_day(scope.start - timedelta(days=1)),
        c.filed_at < end_of_day(scope.end),
    ]
    if scope.kind is not None:
        conditions.append(c.kind == scope.kind.value)
    if scope.sector is not None:
        conditions.append(c.sector == scope.sector)
    if scope.channel is not None:
        conditions.append(c.channel == scope.channel.value)
    if scope.merchant_id is not None:
        conditions.append(c.merchant_id == scope.merchant_id)
    statement = select(*figures).select_from(complaint_table.outerjoin(clocks, true())).where(*conditions)
    if group_by is None:
        row = (await session.execute(statement)).mappings().one()
        return [(None, with_rates({name: int(row[name]) for name in COUNTS}))]
    key = _group_key(group_by, scope.region).label("group_key")
    rows = (await session.execute(statement.add_columns(key).group_by(key).order_by(key))).mappings().all()
    return [(row["group_key"], with_rates({name: int(row[name]) for name in COUNTS})) for row in rows]
