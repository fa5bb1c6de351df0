"""Regulator statistics: exact figures read from cubes the database keeps up to date, and the same figures counted
from the case rows (the definition, and the oracle the tests compare the cubes with).

Every figure counts cases filed in the period (local dates in Asia/Shanghai, both ends included) in the region and
every region below it (GB/T 2260 code prefix), after the optional filters. The definitions, also given in the API
description, are in FIGURES.

How the cubes stay exact (see docs/design-notes.md, "Statistics at scale"): deferred triggers on `complaint` and
`deadline` recompute a changed case's contribution at commit, in the use case's own transaction, and append the
difference to `stats_delta`; `fold` moves the deltas into the day and month cubes (with and without the merchant)
in one transaction. A query sums cube rows and the deltas not folded yet in one statement, so it sees every committed
case exactly once whatever the compactor is doing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    FromClause,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enums import (
    Channel,
    ComplaintKind,
    ComplaintStatus,
    IssueType,
)
from complaints.complaint.models import Complaint
from complaints.consultation.models import ClockState, Consultation
from complaints.deadline.enums import DeadlineKind, DeadlineState
from complaints.deadline.models import Deadline
from complaints.stats.models import (
    COUNTS,
    CUBES,
    NO_MERCHANT,
    day_cube,
    merchant_day_cube,
    merchant_month_cube,
    month_cube,
    stats_case,
    stats_delta,
)
from servicekit import regions
from servicekit.calendar import ZONE, end_of_day

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
deadline_table: Table = Deadline.__table__  # type: ignore[assignment]
consultation_table: Table = Consultation.__table__  # type: ignore[assignment]
# The value of the kind dimension under which the cubes keep consultations.
CONSULTATION_KIND = "consultation"
# A consultation has no issue type; the cubes (whose keys cannot be NULL) keep it under `other` (migration 0011).
CONSULTATION_ISSUE_TYPE = IssueType.OTHER

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
    "consultations": "consultations (咨询) received; not part of `received`. Under group_by=kind their key is "
                     "`consultation`; a kind or merchant filter leaves them out",
    "consultations_answered": "of those, answered by the bureau",
    "consultations_answered_on_time": "of those, answered by the end of the answer clock's due date (the bureau's "
                                      "working-day period, a setting; 7 unless configured)",
}


class GroupBy(StrEnum):
    REGION = "region"
    KIND = "kind"
    SECTOR = "sector"
    CHANNEL = "channel"
    ISSUE_TYPE = "issue_type"
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
    issue_type: IssueType | None = None


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


def _by_prefecture(region: str) -> bool:
    """Group by region means one level down: a province groups by prefecture, a prefecture (or county) by county."""
    return regions.get(region) is not None and regions.prefix(region) == region[:2]


def _group_key(group_by: GroupBy, region: str) -> ColumnElement[Any]:
    c = complaint_table.c
    if group_by is GroupBy.REGION:
        if _by_prefecture(region):
            return func.substr(c.region_code, 1, 4) + literal("00")
        return c.region_code
    if group_by is GroupBy.MERCHANT:
        return cast(c.merchant_id, String)
    if group_by is GroupBy.MONTH:
        return func.to_char(func.timezone(str(ZONE), c.filed_at), "YYYY-MM")
    return {GroupBy.KIND: c.kind, GroupBy.SECTOR: c.sector, GroupBy.CHANNEL: c.channel,
            GroupBy.ISSUE_TYPE: c.issue_type}[group_by]


async def compute_from_cases(session: AsyncSession, scope: Scope,
                             group_by: GroupBy | None) -> list[tuple[str | None, dict[str, Any]]]:
    """[(group key or None, figures)] counted from the case rows and their clocks; one row without a key when not
    grouped. The definition of every figure; its cost grows with the cases in scope (a scan per request)."""
    cases = await _count_cases(session, scope, group_by)
    consultations = await _count_consultations(session, scope, group_by)
    if group_by is None:
        [(_, counts)] = cases
        return [(None, with_rates({**counts, **consultations.get(None, _NO_CONSULTATIONS)}))]
    by_key = {key: counts for key, counts in cases}
    for key, counted in consultations.items():
        by_key[key] = {**by_key.get(key, dict.fromkeys(COUNTS, 0)), **counted}
    ordered = sorted(by_key, key=_key_order)
    return [(key, with_rates({**dict.fromkeys(COUNTS, 0), **by_key[key]})) for key in ordered]


def _key_order(key: str | None) -> tuple[bool, str]:
    """Groups in code-point order of their keys, the group without a key last (the same whatever the collation)."""
    return key is None, key or ""


_CONSULTATION_COUNTS = ("consultations", "consultations_answered", "consultations_answered_on_time")
_NO_CONSULTATIONS = dict.fromkeys(_CONSULTATION_COUNTS, 0)


def _consultation_key(group_by: GroupBy, region: str) -> ColumnElement[Any]:
    q = consultation_table.c
    if group_by is GroupBy.REGION:
        if _by_prefecture(region):
            return func.substr(q.region_code, 1, 4) + literal("00")
        return q.region_code
    if group_by is GroupBy.MERCHANT:
        return cast(literal(None), String)
    if group_by is GroupBy.MONTH:
        return func.to_char(func.timezone(str(ZONE), q.filed_at), "YYYY-MM")
    if group_by is GroupBy.KIND:
        return literal(CONSULTATION_KIND)
    if group_by is GroupBy.ISSUE_TYPE:
        return literal(CONSULTATION_ISSUE_TYPE.value)
    return {GroupBy.SECTOR: q.sector, GroupBy.CHANNEL: q.channel}[group_by]


async def _count_consultations(session: AsyncSession, scope: Scope,
                               group_by: GroupBy | None) -> dict[str | None, dict[str, int]]:
    """The consultation figures counted from the consultation rows, by group key (None when not grouped)."""
    if scope.kind is not None or scope.merchant_id is not None:
        return {}
    if scope.issue_type is not None and scope.issue_type is not CONSULTATION_ISSUE_TYPE:
        return {}
    q = consultation_table.c
    answered = q.answered_at.is_not(None)
    figures = [
        func.count().label("consultations"),
        func.count().filter(answered).label("consultations_answered"),
        func.count().filter(and_(answered, q.clock_state == ClockState.MET.value)).label(
            "consultations_answered_on_time"),
    ]
    conditions = [
        q.region_code.startswith(regions.prefix(scope.region), autoescape=True),
        q.filed_at >= end_of_day(scope.start - timedelta(days=1)),
        q.filed_at < end_of_day(scope.end),
    ]
    if scope.sector is not None:
        conditions.append(q.sector == scope.sector)
    if scope.channel is not None:
        conditions.append(q.channel == scope.channel.value)
    statement = select(*figures).where(*conditions)
    if group_by is None:
        row = (await session.execute(statement)).mappings().one()
        return {None: {name: int(row[name]) for name in _CONSULTATION_COUNTS}} if row["consultations"] else {}
    key = _consultation_key(group_by, scope.region).label("group_key")
    rows = (await session.execute(statement.add_columns(key).group_by(key))).mappings().all()
    return {row["group_key"]: {name: int(row[name]) for name in _CONSULTATION_COUNTS} for row in rows}


async def _count_cases(session: AsyncSession, scope: Scope,
                       group_by: GroupBy | None) -> list[tuple[str | None, dict[str, int]]]:
    """The case figures (complaints and reports) counted from the case rows and their clocks."""
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
    if scope.issue_type is not None:
        conditions.append(c.issue_type == scope.issue_type.value)
    statement = select(*figures).select_from(complaint_table.outerjoin(clocks, true())).where(*conditions)
    case_counts = [name for name in COUNTS if name not in _CONSULTATION_COUNTS]
    if group_by is None:
        row = (await session.execute(statement)).mappings().one()
        return [(None, {**{name: int(row[name]) for name in case_counts}, **_NO_CONSULTATIONS})]
    key = _group_key(group_by, scope.region).label("group_key")
    rows = (await session.execute(statement.add_columns(key).group_by(key).order_by(key))).mappings().all()
    return [(row["group_key"], {**{name: int(row[name]) for name in case_counts}, **_NO_CONSULTATIONS})
            for row in rows]


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _prefix_bounds(region: str) -> tuple[str, str]:
    """[low, high) of the region codes under `region` (the cube columns compare in the C collation)."""
    prefix = regions.prefix(region)
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _cube_key(group_by: GroupBy, region: str, table: Table, bucket: ColumnElement[date]) -> ColumnElement[Any]:
    c = table.c
    if group_by is GroupBy.REGION:
        if _by_prefecture(region):
            return func.substr(c.region_code, 1, 4) + literal("00")
        return cast(c.region_code, String)
    if group_by is GroupBy.MERCHANT:
        if table is stats_delta:
            return cast(c.merchant_id, String)
        return case((c.merchant_id == NO_MERCHANT, None), else_=cast(c.merchant_id, String))
    if group_by is GroupBy.MONTH:
        return func.to_char(bucket, "YYYY-MM")
    return {GroupBy.KIND: c.kind, GroupBy.SECTOR: c.sector, GroupBy.CHANNEL: c.channel,
            GroupBy.ISSUE_TYPE: c.issue_type}[group_by]


def _part(table: Table, spans: list[tuple[date, date]], scope: Scope, group_by: GroupBy | None) -> Select[Any]:
    """The rows of `table` in the scope whose bucket falls in one of `spans` (first and last bucket, included)."""
    c = table.c
    bucket = c.day if table is stats_delta else c.bucket
    low, high = _prefix_bounds(scope.region)
    conditions: list[ColumnElement[bool]] = [
        c.region_code >= low, c.region_code < high,
        or_(*(bucket.between(first, last) for first, last in spans)),
    ]
    if scope.kind is not None:
        conditions.append(c.kind == scope.kind.value)
    if scope.sector is not None:
        conditions.append(c.sector == scope.sector)
    if scope.channel is not None:
        conditions.append(c.channel == scope.channel.value)
    if scope.merchant_id is not None:
        conditions.append(c.merchant_id == scope.merchant_id)
    if scope.issue_type is not None:
        conditions.append(c.issue_type == scope.issue_type.value)
    key = [_cube_key(group_by, scope.region, table, bucket).label("group_key")] if group_by is not None else []
    return select(*key, *(c[name] for name in COUNTS)).where(*conditions)


def _parts(scope: Scope, group_by: GroupBy | None) -> list[Select[Any]]:
    """Whole months inside the period from the month cube, the days at either edge from the day cube, and every
    delta of the period not folded yet."""
    by_merchant = scope.merchant_id is not None or group_by is GroupBy.MERCHANT
    days, months = (merchant_day_cube, merchant_month_cube) if by_merchant else (day_cube, month_cube)
    first_whole = scope.start if scope.start.day == 1 else _next_month(scope.start)
    after_end = scope.end + timedelta(days=1)
    end_whole = after_end if after_end.day == 1 else after_end.replace(day=1)
    parts: list[Select[Any]] = []
    if first_whole < end_whole:
        parts.append(_part(months, [(first_whole, end_whole - timedelta(days=1))], scope, group_by))
        edges = [(first, last) for first, last in ((scope.start, first_whole - timedelta(days=1)),
                                                   (end_whole, scope.end)) if first <= last]
        if edges:
            parts.append(_part(days, edges, scope, group_by))
    else:
        parts.append(_part(days, [(scope.start, scope.end)], scope, group_by))
    parts.append(_part(stats_delta, [(scope.start, scope.end)], scope, group_by))
    return parts


async def compute(session: AsyncSession, scope: Scope,
                  group_by: GroupBy | None) -> list[tuple[str | None, dict[str, Any]]]:
    """[(group key or None, figures)], the same as `compute_from_cases`, read from the cubes and the deltas in one
    statement; its cost grows with regions x buckets x dimension values in scope, not with cases."""
    rows = union_all(*_parts(scope, group_by)).subquery("parts")
    sums = [func.coalesce(func.sum(rows.c[name]), 0).label(name) for name in COUNTS]
    if group_by is None:
        row = (await session.execute(select(*sums))).mappings().one()
        return [(None, with_rates({name: int(row[name]) for name in COUNTS}))]
    statement = (select(rows.c.group_key, *sums).group_by(rows.c.group_key)
                 # A key whose cases all moved elsewhere keeps a row of zeros in the cube until it is rebuilt.
                 .having(func.sum(rows.c.received) + func.sum(rows.c.consultations) > 0)
                 .order_by(rows.c.group_key))
    grouped = (await session.execute(statement)).mappings().all()
    return sorted(((row["group_key"], with_rates({name: int(row[name]) for name in COUNTS})) for row in grouped),
                  key=lambda pair: _key_order(pair[0]))


def _sums(source: FromClause) -> list[ColumnElement[Any]]:
    return [func.sum(source.c[name]).label(name) for name in COUNTS]


def _by_day(source: FromClause, day: ColumnElement[date], name: str) -> CTE:
    """`source`'s counts summed per merchant (NO_MERCHANT for none), day and dimensions."""
    keys = [func.coalesce(source.c.merchant_id, NO_MERCHANT).label("merchant_id"), day.label("bucket"),
            source.c.region_code, source.c.kind, source.c.sector, source.c.channel, source.c.issue_type]
    return select(*keys, *_sums(source)).group_by(*keys).cte(name)


def _into_cubes(by_day: CTE, *, add: bool) -> list[CTE]:
    """INSERTs of `by_day` into every cube, as CTEs of one statement; `add` adds to the rows already there."""
    statements = []
    for cube in CUBES:
        merchant = [by_day.c.merchant_id] if "merchant_id" in cube.c else []
        bucket: ColumnElement[Any] = by_day.c.bucket
        if cube in (month_cube, merchant_month_cube):
            bucket = cast(func.date_trunc("month", by_day.c.bucket), Date)
        keys = [*merchant, bucket, by_day.c.region_code, by_day.c.kind, by_day.c.sector, by_day.c.channel,
                by_day.c.issue_type]
        rows = select(*keys, *_sums(by_day)).group_by(*keys)
        if not add:
            # Rows in key order: a period's rows then sit together on disk, so a query reads few pages.
            rows = rows.order_by(*keys)
        statement = insert(cube).from_select(
            [*(["merchant_id"] if merchant else []), "bucket", "region_code", "kind", "sector", "channel", "issue_type",
             *COUNTS],
            rows)
        if add:
            statement = statement.on_conflict_do_update(
                index_elements=[column.name for column in cube.primary_key.columns],
                set_={name: cube.c[name] + statement.excluded[name] for name in COUNTS})
        statements.append(statement.cte(f"into_{cube.name}"))
    return statements


def _counting(source: FromClause, writes: list[CTE]) -> Select[int]:
    """One statement that counts `source` and performs `writes` (CTEs run to completion even if unread)."""
    statement = select(func.count()).select_from(source)
    for write in writes:
        statement = statement.add_cte(write)
    return statement


# One compactor folds at a time, across every replica of the service ("STATS").
FOLD_LOCK = 0x5354415453


async def fold(session: AsyncSession) -> int:
    """Move every committed delta into the four cubes in one statement; returns how many deltas were folded, 0 when
    another process is folding. The caller commits.

    DELETE ... RETURNING and the upserts share the statement's snapshot: a delta committed later stays for the next
    fold, and a query sees each delta either in `stats_delta` or in the cubes, never in both or neither.
    """
    if not (await session.execute(_TRY_FOLD_LOCK)).scalar_one():
        return 0
    return int((await session.execute(_FOLD)).scalar_one())


def _fold_statement() -> Select[int]:
    moved = stats_delta.delete().returning(*stats_delta.c).cte("moved")
    by_day = _by_day(moved, moved.c.day, "by_day")
    return _counting(moved, _into_cubes(by_day, add=True))


# Built once: the compactor runs every second, and building this statement (five CTEs, a hundred sums) cost more
# CPU than running it.
_TRY_FOLD_LOCK = select(func.pg_try_advisory_xact_lock(FOLD_LOCK))
_FOLD = _fold_statement()


async def rebuild(session: AsyncSession) -> int:
    """Recompute every case's contribution and the cubes from the case rows, in the caller's transaction (after a
    bulk load that bypassed the triggers, or to recover); returns the number of cases. Writers of cases wait for it
    (they would otherwise change a case the rebuild has already read).
    """
    await session.execute(text("LOCK TABLE complaint, deadline, consultation IN SHARE MODE"))
    await session.execute(text("TRUNCATE stats_case, stats_delta, " + ", ".join(cube.name for cube in CUBES)))
    await session.execute(text("INSERT INTO stats_case SELECT * FROM stats_case_contribution"))
    by_day = _by_day(stats_case, stats_case.c.day, "by_day")
    return int((await session.execute(_counting(stats_case, _into_cubes(by_day, add=False)))).scalar_one())
