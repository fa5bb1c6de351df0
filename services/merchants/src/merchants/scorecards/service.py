"""Scorecards: facts recorded from case events, rates computed per period, thresholds turned into flags."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Table, bindparam, extract, func, or_, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.enrollment import service as enrollment_service
from merchants.enrollment.models import Enrollment
from merchants.enrollment.service import Actor
from merchants.enrollment.state import EnrollmentAction, EnrollmentStatus
from merchants.registry.models import Merchant
from merchants.scorecards.models import CaseFacts, FlagLevel, FlagResolution, OrderVolume, ScorecardFlag
from merchants.scorecards.schemas import FlagRead, Scorecard, SummonsSummary
from merchants.settings import MerchantsSettings
from merchants.summons import service as summons_service
from servicekit.auth import Principal
from servicekit.contracts import complaints_v1, mediation_v1
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import queue_write
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

SHANGHAI = ZoneInfo("Asia/Shanghai")
MERCHANT_DEADLINE = "merchant_negotiation"
ENROLLED = (EnrollmentStatus.APPROVED.value, EnrollmentStatus.SUSPENDED.value)


@dataclass(frozen=True)
class Period:
    """Local dates (Asia/Shanghai), both included."""

    start: date
    end: date

    @classmethod
    def ending(cls, today: date, days: int) -> Period:
        return cls(start=today - timedelta(days=days - 1), end=today)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as a half-open UTC interval."""
        start = datetime.combine(self.start, time(), SHANGHAI).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)
        return start, end


def local_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def _facts_of(envelope: EventEnvelope) -> dict[str, Any] | None:
    """The columns an event sets, or None when it tells the scorecard nothing."""
    data = envelope.data
    match envelope.type:
        case complaints_v1.ComplaintRouted.event_type if data.get("target") == complaints_v1.RouteTarget.MERCHANT:
            return {"received_at": complaints_v1.ComplaintRouted.model_validate(data).routed_at}
        case complaints_v1.DeadlineBreached.event_type if data.get("kind") == MERCHANT_DEADLINE:
            return {"deadline_breached_at": complaints_v1.DeadlineBreached.model_validate(data).breached_at}
        case complaints_v1.ComplaintClosed.event_type:
            closed = complaints_v1.ComplaintClosed.model_validate(data)
            return {"closed_at": closed.closed_at, "closed_status": closed.status}
        case complaints_v1.ComplaintRated.event_type:
            return {"rating": complaints_v1.ComplaintRated.model_validate(data).rating}
        case mediation_v1.CaseSettled.event_type:
            return {"settled_at": mediation_v1.CaseSettled.model_validate(data).at}
        case mediation_v1.FulfilmentConfirmed.event_type:
            return {"fulfilment_confirmed": mediation_v1.FulfilmentConfirmed.model_validate(data).confirmed}
        case mediation_v1.CaseReviewed.event_type:
            return {"reviews": 1, "review_findings": int(mediation_v1.CaseReviewed.model_validate(data).finding)}
    return None


case_facts_table: Table = CaseFacts.__table__  # type: ignore[assignment]
# Columns an event adds to (each review counts once; the inbox drops redeliveries) instead of setting.
COUNTED = frozenset({"reviews", "review_findings"})
# The event types `_facts_of` may take something from.
FACT_EVENT_TYPES = frozenset({
    complaints_v1.ComplaintRouted.event_type, complaints_v1.DeadlineBreached.event_type,
    complaints_v1.ComplaintClosed.event_type, complaints_v1.ComplaintRated.event_type,
    mediation_v1.CaseSettled.event_type, mediation_v1.FulfilmentConfirmed.event_type,
    mediation_v1.CaseReviewed.event_type})


def record_facts(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Inbox step: fold the event into its complaint's facts (events may arrive in any order).

    One statement, queued to run with the same facts of the fetch's other events (`queue_write`): the row is written
    only for an enterprise of this registry (the insert selects it).
    """
    merchant = envelope.data.get("merchant_id")
    facts = _facts_of(envelope) if merchant else None
    if facts is not None:
        queue_write(session, _folding(tuple(facts)), {
            "merchant_id": uuid.UUID(str(merchant)), "complaint_id": uuid.UUID(str(envelope.data["complaint_id"])),
            **facts})


@functools.cache
def _folding(names: tuple[str, ...]) -> Insert:
    """The upsert of these fact columns, for an enterprise of this registry only (the insert selects it); built once
    per set of columns, run with parameters."""
    columns = case_facts_table.c
    row = select(bindparam("complaint_id", type_=columns.complaint_id.type).label("complaint_id"), Merchant.id,
                 *(bindparam(name, type_=columns[name].type).label(name) for name in names)
                 ).where(Merchant.id == bindparam("merchant_id"))
    # On the table, not the mapped class: the ORM would take a statement run with parameters for a bulk insert.
    statement = insert(case_facts_table).from_select(["complaint_id", "merchant_id", *names], row)
    return statement.on_conflict_do_update(index_elements=[columns.complaint_id], set_={
        name: columns[name] + statement.excluded[name] if name in COUNTED else statement.excluded[name]
        for name in names})


def _month_days(month: date) -> int:
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - month).days


async def _orders(session: AsyncSession, ids: list[uuid.UUID], period: Period) -> dict[uuid.UUID, int]:
    """Reported orders per enterprise within the period, each month counted for the share of its days inside."""
    rows = (await session.execute(
        select(OrderVolume.merchant_id, OrderVolume.month, OrderVolume.orders)
        .where(OrderVolume.merchant_id.in_(ids), OrderVolume.month <= period.end,
               OrderVolume.month >= period.start.replace(day=1))
    )).all()
    totals: dict[uuid.UUID, float] = {}
    for row in rows:
        last = row.month + timedelta(days=_month_days(row.month) - 1)
        overlap = (min(last, period.end) - max(row.month, period.start)).days + 1
        totals[row.merchant_id] = totals.get(row.merchant_id, 0.0) + row.orders * overlap / _month_days(row.month)
    return {merchant_id: round(total) for merchant_id, total in totals.items()}


async def report_orders(session: AsyncSession, *, merchant_id: uuid.UUID, month: date, orders: int) -> None:
    """Use case: the enterprise reports (or corrects) its order count for a month."""
    async with session.begin():
        statement = insert(OrderVolume).values(merchant_id=merchant_id, month=month, orders=orders)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[OrderVolume.merchant_id, OrderVolume.month],
            set_={"orders": orders, "reported_at": func.now()}))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _aggregates(period: Period) -> Select[Any]:
    start, end = period.bounds()
    settled = CaseFacts.settled_at.is_not(None)
    days_to_settle = extract("epoch", CaseFacts.settled_at - CaseFacts.received_at) / 86400
    return (
        select(
            CaseFacts.merchant_id,
            func.count().label("received"),
            func.count().filter(CaseFacts.deadline_breached_at.is_(None)).label("on_time"),
            func.count().filter(or_(CaseFacts.closed_at.is_not(None), settled)).label("closed"),
            func.count().filter(settled).label("settled"),
            func.percentile_cont(0.5).within_group(days_to_settle).filter(settled).label("median_days"),
            func.count().filter(CaseFacts.fulfilment_confirmed.is_(True)).label("confirmed"),
            func.count(CaseFacts.rating).label("ratings"),
            func.avg(CaseFacts.rating).label("average_rating"),
            func.count().filter(CaseFacts.reviews > 0).label("reviewed"),
            func.coalesce(func.sum(CaseFacts.review_findings), 0).label("review_findings"),
        )
        .where(CaseFacts.received_at >= start, CaseFacts.received_at < end)
        .group_by(CaseFacts.merchant_id)
    )


async def scorecards(session: AsyncSession, *, period: Period, where: list[ColumnElement[bool]],
                     cipher: PiiCipher | None = None, limit: int | None = None) -> list[Scorecard]:
    """Scorecards of the enrolled enterprises matching `where` (conditions on Merchant / Enrollment), by id; with a
    `cipher` (the enterprise's and the regulators' views, not the public list nor the thresholds' evaluation) also
    their open flags and the summons held in the period, their sealed text opened with it."""
    enterprises = (await session.execute(
        select(Merchant.id, Merchant.name, Merchant.region_code, Enrollment.status)
        .join(Enrollment, Enrollment.merchant_id == Merchant.id)
        .where(Enrollment.status.in_(ENROLLED), *where)
        .order_by(Merchant.id)
        .limit(limit)
    )).all()
    if not enterprises:
        return []
    ids = [row.id for row in enterprises]
    totals = {row.merchant_id: row for row in (await session.execute(
        _aggregates(period).where(CaseFacts.merchant_id.in_(ids)))).all()}
    orders = await _orders(session, ids, period)
    flags: dict[uuid.UUID, list[FlagRead]] = {}
    summons = await summons_service.of_enterprises(session, ids, start=period.start, end=period.end) \
        if cipher is not None else {}
    if cipher is not None:
        for flag in (await session.scalars(select(ScorecardFlag).where(
                ScorecardFlag.merchant_id.in_(ids), ScorecardFlag.resolved_at.is_(None)))).all():
            flags.setdefault(flag.merchant_id, []).append(flag_read(flag, cipher))
    cards = []
    for enterprise in enterprises:
        total = totals.get(enterprise.id)
        received = total.received if total else 0
        on_time = total.on_time if total else 0
        closed = total.closed if total else 0
        settled = total.settled if total else 0
        confirmed = total.confirmed if total else 0
        ratings = total.ratings if total else 0
        cards.append(Scorecard(
            merchant_id=enterprise.id, name=enterprise.name, region_code=enterprise.region_code,
            enrollment_status=enterprise.status, period_from=period.start, period_to=period.end,
            cases_received=received, answered_within_deadline=on_time,
            answered_within_deadline_rate=_ratio(on_time, received), closed=closed, settled=settled,
            settlement_rate=_ratio(settled, closed),
            median_days_to_settle=round(float(total.median_days), 2) if total and total.median_days is not None
            else None,
            fulfilment_confirmed=confirmed, fulfilment_confirmed_rate=_ratio(confirmed, settled), ratings=ratings,
            average_rating=round(float(total.average_rating), 2) if total and total.average_rating is not None
            else None,
            orders=orders.get(enterprise.id),
            complaints_per_1000_orders=round(received * 1000 / orders[enterprise.id], 3)
            if orders.get(enterprise.id) else None,
            cases_reviewed=total.reviewed if total else 0,
            review_findings=int(total.review_findings) if total else 0,
            open_flags=flags.get(enterprise.id, []),
            summons=[SummonsSummary(id=item.id, held_on=item.held_on,
                                    findings=summons_service.findings_of(item, cipher),
                                    undertakings=summons_service.undertakings_of(item, cipher))
                     for item in summons.get(enterprise.id, []) if cipher is not None],
        ))
    return cards


def flag_read(flag: ScorecardFlag, cipher: PiiCipher) -> FlagRead:
    """The flag as shown to enterprises and regulators."""
    note = (cipher.decrypt(flag.resolution_note_enc, context=_resolution_note_context(flag.id))
            if flag.resolution_note_enc is not None else None)
    return FlagRead(id=flag.id, merchant_id=flag.merchant_id, level=flag.level, reasons=flag.reasons,
                    raised_at=flag.raised_at, resolved_at=flag.resolved_at, resolution=flag.resolution,
                    resolution_note=note)


def _resolution_note_context(flag_id: uuid.UUID) -> str:
    return f"scorecard_flag:{flag_id}:resolution_note"


def shortfalls(card: Scorecard, settings: MerchantsSettings) -> list[str]:
    """Which thresholds the scorecard misses (none while there are too few cases to judge)."""
    if card.cases_received < settings.scorecard_min_cases:
        return []
    reasons = []
    if (rate := card.answered_within_deadline_rate) is not None and rate < settings.scorecard_min_on_time_rate:
        reasons.append(f"answered within the deadline {rate:.0%} < {settings.scorecard_min_on_time_rate:.0%}")
    if (rate := card.settlement_rate) is not None and rate < settings.scorecard_min_settlement_rate:
        reasons.append(f"settlement rate {rate:.0%} < {settings.scorecard_min_settlement_rate:.0%}")
    if (rating := card.average_rating) is not None and rating < settings.scorecard_min_rating:
        reasons.append(f"average rating {rating:.2f} < {settings.scorecard_min_rating:.2f}")
    return reasons


async def evaluate(session: AsyncSession, *, settings: MerchantsSettings, now: datetime) -> list[ScorecardFlag]:
    """Use case: check every approved enterprise against the thresholds; returns the flags raised.

    A miss raises a warning; a warning still deserved `scorecard_propose_after_days` later becomes a suspension
    proposal for the regulator; an enterprise back within the thresholds has its warning closed as recovered.
    """
    period = Period.ending(local_today(now), settings.scorecard_window_days)
    raised: list[ScorecardFlag] = []
    async with session.begin():
        cards = await scorecards(session, period=period, where=[Enrollment.status == EnrollmentStatus.APPROVED])
        open_flags = {(flag.merchant_id, flag.level): flag for flag in (await session.scalars(
            select(ScorecardFlag).where(ScorecardFlag.resolved_at.is_(None)).with_for_update())).all()}
        for card in cards:
            reasons = shortfalls(card, settings)
            warning = open_flags.get((card.merchant_id, FlagLevel.WARNING.value))
            if not reasons:
                if warning is not None:
                    _resolve(warning, FlagResolution.RECOVERED, by="system", note="back within the thresholds",
                             at=now, cipher=PiiCipher(settings.pii_key.get_secret_value()))
                continue
            snapshot = card.model_dump(mode="json", exclude={"open_flags"})
            if warning is None:
                raised.append(ScorecardFlag(merchant_id=card.merchant_id, level=FlagLevel.WARNING.value,
                                            reasons=reasons, scorecard=snapshot, raised_at=now))
            elif (now - warning.raised_at >= timedelta(days=settings.scorecard_propose_after_days)
                  and (card.merchant_id, FlagLevel.SUSPENSION_PROPOSED.value) not in open_flags):
                raised.append(ScorecardFlag(merchant_id=card.merchant_id,
                                            level=FlagLevel.SUSPENSION_PROPOSED.value, reasons=reasons,
                                            scorecard=snapshot, raised_at=now))
        session.add_all(raised)
    return raised


def _resolve(flag: ScorecardFlag, resolution: FlagResolution, *, by: str, note: str, at: datetime,
             cipher: PiiCipher) -> None:
    flag.resolved_at = at
    flag.resolution = resolution.value
    flag.resolved_by = by
    flag.resolution_note_enc = cipher.encrypt(note, context=_resolution_note_context(flag.id))


async def _open_proposal(session: AsyncSession, proposal_id: uuid.UUID, principal: Principal) -> ScorecardFlag:
    row = (await session.execute(
        select(ScorecardFlag, Merchant.region_code).join(Merchant, Merchant.id == ScorecardFlag.merchant_id)
        .where(ScorecardFlag.id == proposal_id, ScorecardFlag.level == FlagLevel.SUSPENSION_PROPOSED.value)
        .with_for_update(of=ScorecardFlag)
    )).one_or_none()
    if row is None or not principal.governs(row.region_code):
        raise Problem("not-found", "No such suspension proposal in the regions you govern")
    if row[0].resolved_at is not None:
        raise Problem("conflict", f"The proposal was already {row[0].resolution}")
    return row[0]


async def confirm_proposal(session: AsyncSession, *, outbox: Outbox, proposal_id: uuid.UUID, principal: Principal,
                           reason: str, now: datetime, cipher: PiiCipher) -> ScorecardFlag:
    """Use case: the regulator confirms: the enterprise is suspended (and announced) with the flag closed."""
    async with session.begin():
        proposal = await _open_proposal(session, proposal_id, principal)
        await enrollment_service.stage_status_change(
            session, outbox=outbox, merchant_id=proposal.merchant_id, action=EnrollmentAction.SUSPEND,
            actor=Actor(role="regulator", id=principal.sub), reason=reason, may_act=principal.governs, cipher=cipher)
        _resolve(proposal, FlagResolution.CONFIRMED, by=principal.sub, note=reason, at=now, cipher=cipher)
    return proposal


async def dismiss_proposal(session: AsyncSession, *, proposal_id: uuid.UUID, principal: Principal, reason: str,
                           now: datetime, cipher: PiiCipher) -> ScorecardFlag:
    """Use case: the regulator dismisses the proposal; the enterprise stays approved."""
    async with session.begin():
        proposal = await _open_proposal(session, proposal_id, principal)
        _resolve(proposal, FlagResolution.DISMISSED, by=principal.sub, note=reason, at=now, cipher=cipher)
    return proposal
