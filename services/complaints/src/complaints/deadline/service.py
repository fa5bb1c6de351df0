"""Statutory clocks of a case: start, meet or end, pause and resume, extend on approval, and list them.

Periods follow Order 121 Art. 45 through `servicekit.calendar`: the start day is not counted, and a period whose
last day is a holiday ends on the next working day. All functions run in the caller's transaction and never commit.
Clocks that ran out are breached by `complaint.service.sweep_breaches`, which versions the case as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.deadline.enums import OPEN_CLOCK, TICKING, DeadlineKind, DeadlineState
from complaints.deadline.models import Deadline
from servicekit import regions
from servicekit.calendar import add_working_days, end_of_day, is_working_day, local_date
from servicekit.db import new_id
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

deadline_table: Table = Deadline.__table__  # type: ignore[assignment]

# Working days each clock runs: 10 WD for the ODR enterprise to negotiate (architecture.md §4; the national default of
# the per-region setting `merchant_negotiation_working_days`), 7 WD for the regulator to accept or refuse (Art. 15),
# 15 WD to verify a report (Art. 35).
WORKING_DAYS: dict[DeadlineKind, int] = {
    DeadlineKind.MERCHANT_NEGOTIATION: 10,
    DeadlineKind.INITIAL_REVIEW: 7,
    DeadlineKind.REPORT_VERIFICATION: 15,
}
# Extension a report's verification clock gets with the head of the bureau's approval (Art. 27, 35).
REPORT_EXTENSION_WORKING_DAYS = 15


def working_days_between(first: date, last: date) -> int:
    """Working days in the half-open span (first, last]: how many a paused clock stood still."""
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


@dataclass(frozen=True)
class NegotiationPeriods:
    """Working days an ODR enterprise has to negotiate, by region code: a key covers that region and everything below
    it, the most specific matching key wins, and the key "" covers the whole country."""

    by_region: Mapping[str, int]

    def for_region(self, region_code: str) -> int:
        """The period that applies to a complaint of `region_code`."""
        matching = [key for key in self.by_region if not key or regions.contains(key, region_code)]
        if not matching:
            raise ValueError("the negotiation periods need a national default under the key ''")
        return self.by_region[max(matching, key=lambda key: len(regions.prefix(key)))]


def due_date_from(at: datetime, kind: DeadlineKind, *, working_days: int | None = None) -> date:
    """The last day of a clock of `kind` started at `at` (Art. 45: the local start day is not counted); it runs
    `working_days` when given (a region's negotiation period), else the statutory period of `kind`."""
    return add_working_days(local_date(at), WORKING_DAYS[kind] if working_days is None else working_days)


async def start(session: AsyncSession, *, case_id: uuid.UUID, kind: DeadlineKind, at: datetime,
                working_days: int | None = None) -> dict[str, Any]:
    """Start a clock of `kind` on the local day of `at` (running `working_days` when given); returns the row written."""
    row = clock_row(case_id=case_id, kind=kind, at=at, working_days=working_days)
    await session.execute(deadline_table.insert(), row)
    return row


def clock_row(*, case_id: uuid.UUID, kind: DeadlineKind, at: datetime,
              working_days: int | None = None) -> dict[str, Any]:
    """The row of a clock of `kind` started at `at`, every column given, for the caller to write."""
    due_date = due_date_from(at, kind, working_days=working_days)
    return {
        "id": new_id(), "complaint_id": case_id, "kind": kind.value, "due_date": due_date,
        "state": DeadlineState.RUNNING.value, "due_at": end_of_day(due_date), "started_at": at, "met_at": None,
        "breached_at": None, "paused_at": None, "ended_at": None, "extended_days": 0,
        "extension_approved_by": None, "extension_reason_enc": None,
    }


async def close_open(session: AsyncSession, *, case_id: uuid.UUID, at: datetime, state: DeadlineState,
                     kinds: Collection[DeadlineKind] | None = None) -> None:
    """Mark the case's open clocks (of `kinds`, else all) `met` or `ended`; a breached clock stays breached."""
    if state not in (DeadlineState.MET, DeadlineState.ENDED):
        raise ValueError("an open clock closes as met or ended")
    statement = deadline_table.update().where(
        deadline_table.c.complaint_id == case_id, deadline_table.c.state.in_([s.value for s in OPEN_CLOCK]))
    if kinds is not None:
        statement = statement.where(deadline_table.c.kind.in_([kind.value for kind in kinds]))
    stamp = {"met_at": at} if state is DeadlineState.MET else {"ended_at": at}
    await session.execute(statement.values(state=state.value, paused_at=None, **stamp))


async def _open_clock(session: AsyncSession, case_id: uuid.UUID, kind: DeadlineKind) -> RowMapping:
    row = (await session.execute(
        select(deadline_table).where(deadline_table.c.complaint_id == case_id, deadline_table.c.kind == kind.value,
                                     deadline_table.c.state.in_([s.value for s in OPEN_CLOCK]))
        .with_for_update()
    )).mappings().first()
    if row is None:
        raise Problem("conflict", f"The case has no open {kind.value} clock")
    return row


async def pause(session: AsyncSession, *, case_id: uuid.UUID, kind: DeadlineKind, at: datetime) -> None:
    """Stop a ticking clock (appraisal, recusal: Art. 21-22); 409 if it is not ticking."""
    clock = await _open_clock(session, case_id, kind)
    if clock["state"] == DeadlineState.PAUSED.value:
        raise Problem("conflict", f"The {kind.value} clock is already paused")
    await session.execute(deadline_table.update().where(deadline_table.c.id == clock["id"])
                          .values(state=DeadlineState.PAUSED.value, paused_at=at))


async def resume(session: AsyncSession, *, case_id: uuid.UUID, kind: DeadlineKind, at: datetime) -> date:
    """Restart a paused clock; the working days it stood still are added to its due date, which is returned."""
    clock = await _open_clock(session, case_id, kind)
    if clock["state"] != DeadlineState.PAUSED.value:
        raise Problem("conflict", f"The {kind.value} clock is not paused")
    remaining = working_days_between(local_date(clock["paused_at"]), clock["due_date"])
    due_date = add_working_days(local_date(at), remaining) if remaining else clock["due_date"]
    resumed_state = DeadlineState.EXTENDED if clock["extended_days"] else DeadlineState.RUNNING
    await session.execute(deadline_table.update().where(deadline_table.c.id == clock["id"]).values(
        state=resumed_state.value, paused_at=None, due_date=due_date, due_at=end_of_day(due_date)))
    return due_date


async def extend(session: AsyncSession, *, case_id: uuid.UUID, kind: DeadlineKind, working_days: int,
                 approved_by: str, reason: str, cipher: PiiCipher) -> date:
    """Add `working_days` to a ticking clock once, on approval; 409 if it was extended before or is not ticking.
    The reason is kept sealed ("deadline:<id>:extension_reason")."""
    clock = await _open_clock(session, case_id, kind)
    if clock["extended_days"]:
        raise Problem("conflict", f"The {kind.value} clock was already extended")
    if clock["state"] not in {state.value for state in TICKING}:
        raise Problem("conflict", f"The {kind.value} clock is {clock['state']}")
    due_date = add_working_days(clock["due_date"], working_days)
    await session.execute(deadline_table.update().where(deadline_table.c.id == clock["id"]).values(
        state=DeadlineState.EXTENDED.value, due_date=due_date, due_at=end_of_day(due_date),
        extended_days=working_days, extension_approved_by=approved_by,
        extension_reason_enc=cipher.encrypt(reason, context=f"deadline:{clock['id']}:extension_reason")))
    return due_date


async def of_case(session: AsyncSession, case_id: uuid.UUID) -> Sequence[RowMapping]:
    """Every clock of a case, oldest first."""
    return (await session.execute(
        select(deadline_table).where(deadline_table.c.complaint_id == case_id)
        .order_by(deadline_table.c.started_at, deadline_table.c.id)
    )).mappings().all()
