"""Use cases of the station desk: the station's own cases (detail with full personal data, logged like a
regulator's read), an on-the-spot settlement of a walk-in's complaint, and the station's figures.

Filing itself is the complaint's use case (`complaint.service.file_complaint`) with the station's actor and id.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, RowMapping, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.access import service as access_service
from complaints.complaint import service as complaint_service
from complaints.complaint.enums import ActorRole, ComplaintKind, ComplaintStatus
from complaints.complaint.schemas import ComplaintRead, SettledOnSpot
from complaints.complaint.service import complaint_table
from complaints.complaint.state import Actor, ensure_settleable_at_station, lock, status_of, transition
from complaints.deadline import service as deadline_service
from complaints.deadline.enums import DeadlineState
from complaints.publisher import Publisher
from complaints.station.schemas import Period, StationCounts, StationFigures, StationPeriodCounts
from servicekit.auth import Principal
from servicekit.calendar import ZONE
from servicekit.contracts.complaints_v1 import ComplaintClosed
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

# A range of days the desk's chart can still draw, and a month range of ten years.
MAX_BUCKETS = {Period.DAY: 366, Period.MONTH: 120}


async def get_case(session: AsyncSession, *, complaint_id: uuid.UUID, station_id: uuid.UUID, principal: Principal,
                   cipher: PiiCipher) -> ComplaintRead:
    """A case the caller's station filed, personal data included; 404 for any other. The read is logged in
    `pii_access` and committed before the data is returned, as a regulator's is (architecture.md §6)."""
    row = (await session.execute(select(complaint_table).where(
        complaint_table.c.id == complaint_id, complaint_table.c.station_id == station_id))).mappings().one_or_none()
    if row is None:
        raise Problem("not-found", "Your station filed no such case")
    found = await complaint_service.versioned(session, row, cipher)
    await access_service.log_station_read(session, row=row, principal=principal, cipher=cipher)
    await session.commit()
    return found.detail


async def ensure_own_case(session: AsyncSession, *, complaint_id: uuid.UUID, station_id: uuid.UUID) -> None:
    """Nothing, or 404 when the station did not file this case."""
    found = await session.scalar(select(complaint_table.c.id).where(
        complaint_table.c.id == complaint_id, complaint_table.c.station_id == station_id))
    if found is None:
        raise Problem("not-found", "Your station filed no such case")


async def settle_on_the_spot(session: AsyncSession, *, complaint_id: uuid.UUID, station_id: uuid.UUID,
                             principal: Principal, body: SettledOnSpot, publisher: Publisher) -> None:
    """pending_acceptance -> closed_settled: the walk-in and the business agreed at the station that filed the case.

    One transaction: the move (409 unless the case still waits for the regulator), the amount recovered, the timeline
    row naming the staff member and what was agreed, `closed.v1`, and the acceptance clock met, as a settlement at
    filing meets it: the complaint was dealt with within the period (a clock already breached stays breached).
    """
    async with session.begin():
        case = await lock(session, complaint_id)
        if case is None or case["station_id"] != station_id or case["kind"] != ComplaintKind.COMPLAINT:
            raise Problem("not-found", "Your station filed no such complaint")
        ensure_settleable_at_station(status_of(case["status"]))
        now = utcnow()

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintClosed(
                complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
                merchant_id=row["merchant_id"], status=row["status"], recovered_fen=row["recovered_fen"],
                closed_at=row["closed_at"], settled_by_station=station_id,
            ).envelope(source=publisher.source)]

        await transition(session, case=case, target=ComplaintStatus.CLOSED_SETTLED,
                         actor=Actor(ActorRole.STATION_STAFF, principal.sub), at=now, publisher=publisher,
                         events=events, code="settled_at_station", note=f"Settled at the station: {body.note}",
                         details={"amount_fen": body.amount_fen, "station_id": str(station_id), "text": body.note},
                         changes={"recovered_fen": body.amount_fen, "closed_at": now, "station_settled_at": now})
        await deadline_service.close_open(session, case_id=complaint_id, at=now, state=DeadlineState.MET)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _bucket_starts(period: Period, period_from: date, period_to: date) -> list[date]:
    if period is Period.DAY:
        return [date.fromordinal(day) for day in range(period_from.toordinal(), period_to.toordinal() + 1)]
    starts = []
    year, month = period_from.year, period_from.month
    for _ in range(_months_between(period_from, period_to)):
        starts.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return starts


async def figures(session: AsyncSession, *, station_id: uuid.UUID, period: Period, period_from: date,
                  period_to: date) -> StationFigures:
    """The station's counts over the cases it filed from `period_from` to `period_to` (local dates, both included),
    in total and per day or month. Read straight from the case rows of the station (indexed by station), so they are
    exact at any instant, like the regulator's statistics, and agree with them: a case counts in the period it was
    filed, a settlement on the spot is a settled, closed case with its amount recovered."""
    if period_from > period_to:
        raise Problem("validation-error", "The period ends before it starts",
                      errors=[{"field": "query.from", "message": "must not be after `to`", "code": "range"}])
    starts = _bucket_starts(period, period_from, period_to)
    if len(starts) > MAX_BUCKETS[period]:
        raise Problem("validation-error", "The period is too long for its buckets",
                      errors=[{"field": "query.to", "code": "range",
                               "message": f"at most {MAX_BUCKETS[period]} {period.value}s"}])
    c = complaint_table.c
    local_day = cast(func.timezone(ZONE.key, c.filed_at), Date)
    bucket = (local_day if period is Period.DAY
              else cast(func.date_trunc("month", func.timezone(ZONE.key, c.filed_at)), Date)).label("bucket")
    on_spot = c.station_settled_at.is_not(None)
    rows = (await session.execute(
        select(
            bucket,
            func.count().label("received"),
            func.count().filter(on_spot).label("settled_on_spot"),
            func.count().filter(c.closed_at.is_not(None)).label("closed"),
            func.coalesce(func.sum(c.recovered_fen), 0).label("recovered_fen"),
            func.coalesce(func.sum(c.recovered_fen).filter(on_spot), 0).label("recovered_on_spot_fen"),
        )
        .where(and_(c.station_id == station_id, local_day >= period_from, local_day <= period_to))
        .group_by(bucket)
    )).mappings().all()
    by_start = {row["bucket"]: row for row in rows}

    def counts(received: int, settled: int, closed: int, recovered: int, on_spot_fen: int) -> dict[str, int]:
        return {"received": received, "settled_on_spot": settled, "referred": received - settled, "closed": closed,
                "recovered_fen": recovered, "recovered_on_spot_fen": on_spot_fen}

    periods = [StationPeriodCounts(start=start, **counts(*(
        int(by_start[start][name]) if start in by_start else 0
        for name in ("received", "settled_on_spot", "closed", "recovered_fen", "recovered_on_spot_fen"))))
        for start in starts]
    totals = StationCounts(**counts(*(sum(getattr(p, name) for p in periods) for name in
                                      ("received", "settled_on_spot", "closed", "recovered_fen",
                                       "recovered_on_spot_fen"))))
    return StationFigures(station_id=station_id, period_from=period_from, period_to=period_to, period=period,
                          totals=totals, periods=periods)
