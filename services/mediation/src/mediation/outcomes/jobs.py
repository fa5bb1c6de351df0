"""The outcome-signals job: the signals no single state change raises (an overdue fulfilment, the outlier rates).

Each pass takes `now`, is safe to run again (signals are unique per case and kind, rate signals per subject, region
and month) and runs in short transactions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.agreements.models import FulfilmentStatus, SettlementAgreement
from mediation.cases.models import MediationCase
from mediation.cases.state import FINAL, CaseStatus, Stage
from mediation.outcomes import rules
from mediation.outcomes.models import AuditThreshold, ComplaintProfile, OutcomeSignal, SignalKind
from mediation.outcomes.signals import WITHDRAWAL_GROUND, raise_signal
from mediation.outcomes.thresholds import DEFAULTS, ThresholdCache
from servicekit.calendar import end_of_day, local_date
from servicekit.db import utcnow
from servicekit.observability import get_logger

BATCH = 200
UNKNOWN_SECTOR = "unknown"
Clock = Callable[[], datetime]


def _clock_start(agreement: SettlementAgreement) -> datetime:
    return end_of_day(agreement.fulfil_by) if agreement.fulfil_by else agreement.created_at


async def raise_fulfilment_overdue(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """fulfilment_overdue on every unconfirmed agreement past its region's days; how many were raised."""
    raised, last_id = 0, None
    while True:
        async with sessionmaker() as session, session.begin():
            limits = ThresholdCache(session)
            query = (select(SettlementAgreement, MediationCase)
                     .join(MediationCase, MediationCase.id == SettlementAgreement.case_id)
                     .where(SettlementAgreement.fulfilment_status != FulfilmentStatus.CONFIRMED.value,
                            ~select(OutcomeSignal.id).where(
                                OutcomeSignal.case_id == SettlementAgreement.case_id,
                                OutcomeSignal.kind == SignalKind.FULFILMENT_OVERDUE.value).exists())
                     .order_by(SettlementAgreement.id).limit(BATCH))
            if last_id is not None:
                query = query.where(SettlementAgreement.id > last_id)
            rows = list(await session.execute(query))
            for agreement, case in rows:
                days = (await limits.of(case.region_code)).fulfilment_overdue_days
                start = _clock_start(agreement)
                if now >= start + timedelta(days=days):
                    raised += await raise_signal(session, case, SignalKind.FULFILMENT_OVERDUE, at=now, detail={
                        "agreement_id": str(agreement.id), "fulfilment_status": agreement.fulfilment_status,
                        "fulfil_by": agreement.fulfil_by.isoformat() if agreement.fulfil_by else None,
                        "overdue_since": (start + timedelta(days=days)).isoformat(), "threshold_days": days})
        if len(rows) < BATCH:
            return raised
        last_id = rows[-1][0].id


@dataclass
class _Closed:
    """A closed case as the rates see it."""

    id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    sector: str
    mediator_id: str | None
    stage: str
    status: str
    ground: int | None
    closed_at: datetime
    signals: set[str] = field(default_factory=set)


async def _closed_since(session: AsyncSession, since: datetime) -> list[_Closed]:
    rows = (await session.execute(
        select(MediationCase.id, MediationCase.region_code, MediationCase.merchant_id, ComplaintProfile.sector,
               MediationCase.mediator_id, MediationCase.stage, MediationCase.status, MediationCase.termination_ground,
               MediationCase.closed_at)
        .outerjoin(ComplaintProfile, ComplaintProfile.complaint_id == MediationCase.complaint_id)
        .where(MediationCase.status.in_([status.value for status in FINAL]), MediationCase.closed_at >= since))
    ).all()
    cases = {row.id: _Closed(id=row.id, region_code=row.region_code, merchant_id=row.merchant_id,
                             sector=row.sector or UNKNOWN_SECTOR, mediator_id=row.mediator_id, stage=row.stage,
                             status=row.status, ground=row.termination_ground, closed_at=row.closed_at)
             for row in rows}
    ids = list(cases)
    for start in range(0, len(ids), 5_000):
        for case_id, kind in (await session.execute(select(OutcomeSignal.case_id, OutcomeSignal.kind).where(
                OutcomeSignal.case_id.in_(ids[start:start + 5_000])))).all():
            cases[case_id].signals.add(kind)
    return list(cases.values())


def _sector_of(cases: list[_Closed]) -> str:
    """The sector of most of an enterprise's cases (ties: the first in name order)."""
    counts = Counter(case.sector for case in cases)
    return min(counts, key=lambda sector: (-counts[sector], sector))


def _is_termination(case: _Closed) -> bool:
    return case.status == CaseStatus.TERMINATED.value and case.ground != WITHDRAWAL_GROUND


async def raise_outliers(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """enterprise_outlier and mediator_outlier for the current month (`rules.RULES`); how many were raised."""
    period = local_date(now).strftime("%Y-%m")
    raised = 0
    async with sessionmaker() as session, session.begin():
        limits = ThresholdCache(session)
        widest = max(DEFAULTS.outlier_window_days, await _widest_window(session))
        by_region: dict[str, list[_Closed]] = defaultdict(list)
        for case in await _closed_since(session, now - timedelta(days=widest)):
            by_region[case.region_code].append(case)
        for region_code, all_cases in sorted(by_region.items()):
            limit = await limits.of(region_code)
            since = now - timedelta(days=limit.outlier_window_days)
            cases = [case for case in all_cases if case.closed_at >= since]
            raised += await _enterprise_outliers(session, region_code, cases, limit.outlier_min_cases,
                                                 limit.outlier_z, limit.outlier_window_days, period, now)
            raised += await _mediator_outliers(session, region_code, cases, limit.outlier_min_cases,
                                               limit.outlier_z, limit.outlier_window_days, period, now)
    return raised


async def _widest_window(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(AuditThreshold.outlier_window_days), 0))) or 0)


async def _enterprise_outliers(session: AsyncSession, region_code: str, cases: list[_Closed], min_cases: int,
                               z: float, window: int, period: str, now: datetime) -> int:
    by_merchant: dict[uuid.UUID, list[_Closed]] = defaultdict(list)
    for case in cases:
        if case.merchant_id is not None:
            by_merchant[case.merchant_id].append(case)
    raised = 0
    for merchant_id, own in sorted(by_merchant.items(), key=lambda item: str(item[0])):
        if len(own) < min_cases:
            continue
        sector = _sector_of(own)
        peers = [case for case in cases if case.sector == sector and case.merchant_id not in (None, merchant_id)]
        far: dict[str, rules.Comparison] = {}
        for kind in rules.CASE_SIGNALS:
            comparison = rules.compare(sum(kind.value in case.signals for case in own), len(own),
                                       sum(kind.value in case.signals for case in peers), len(peers),
                                       min_cases=min_cases)
            if comparison is not None and rules.is_far(comparison, z):
                far[kind.value] = comparison
        if not far:
            continue
        flagged = [case for case in own if case.signals & set(far)] or own
        anchor = max(flagged, key=lambda case: (case.closed_at, case.id))
        raised += await raise_signal(
            session, await session.get_one(MediationCase, anchor.id), SignalKind.ENTERPRISE_OUTLIER, at=now,
            subject_id=str(merchant_id), period=period,
            detail={"merchant_id": str(merchant_id), "sector": sector, "window_days": window,
                    "min_cases": min_cases, "z_threshold": z,
                    "rates": {kind: comparison.as_detail() for kind, comparison in far.items()}})
    return raised


async def _mediator_outliers(session: AsyncSession, region_code: str, cases: list[_Closed], min_cases: int,
                             z: float, window: int, period: str, now: datetime) -> int:
    mediated = [case for case in cases if case.stage == Stage.MEDIATION.value and case.mediator_id is not None]
    by_mediator: dict[str, list[_Closed]] = defaultdict(list)
    for case in mediated:
        assert case.mediator_id is not None
        by_mediator[case.mediator_id].append(case)
    raised = 0
    for mediator_id, own in sorted(by_mediator.items()):
        peers = [case for case in mediated if case.mediator_id != mediator_id]
        comparison = rules.compare(sum(map(_is_termination, own)), len(own), sum(map(_is_termination, peers)),
                                   len(peers), min_cases=min_cases)
        if comparison is None or not rules.is_far(comparison, z):
            continue
        anchor = max((case for case in own if _is_termination(case)), key=lambda case: (case.closed_at, case.id))
        raised += await raise_signal(
            session, await session.get_one(MediationCase, anchor.id), SignalKind.MEDIATOR_OUTLIER, at=now,
            subject_id=mediator_id, period=period,
            detail={"mediator_id": mediator_id, "window_days": window, "min_cases": min_cases, "z_threshold": z,
                    "termination_rate": comparison.as_detail()})
    return raised


async def signal_pass(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> dict[str, int]:
    """One pass of every job-raised signal at `now`; how many of each were raised."""
    return {"fulfilment_overdue": await raise_fulfilment_overdue(sessionmaker, now=now),
            "outliers": await raise_outliers(sessionmaker, now=now)}


async def run_outcome_signals(sessionmaker: async_sessionmaker[AsyncSession], *, interval_seconds: float,
                              clock: Clock = utcnow) -> None:
    """Background job: a pass every `interval_seconds` until cancelled."""
    log = get_logger("mediation.outcomes.jobs")
    while True:
        raised = await signal_pass(sessionmaker, now=clock())
        if any(raised.values()):
            log.info("outcome signals raised", **raised)
        await asyncio.sleep(interval_seconds)
