"""Deadline sweepers: each takes `now`, claims due rows with FOR UPDATE SKIP LOCKED and is safe to run again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.cases import outcomes
from mediation.cases.access import SYSTEM
from mediation.cases.models import MediationCase
from mediation.cases.state import CaseStatus
from mediation.fulfilment.service import flag_unconfirmed
from mediation.regulator.service import expire_mediations
from mediation.settings import MediationSettings
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.observability import get_logger

BATCH = 100
Clock = Callable[[], datetime]


async def expire_negotiations(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox,
                              now: datetime) -> int:
    """Fail every negotiation whose last day has passed (reason deadline_passed); how many failed."""
    today, expired = local_date(now), 0
    while True:
        async with sessionmaker() as session, session.begin():
            cases = list((await session.execute(
                select(MediationCase)
                .where(MediationCase.status == CaseStatus.NEGOTIATING.value, MediationCase.due_date < today)
                .order_by(MediationCase.id).limit(BATCH).with_for_update(skip_locked=True))).scalars())
            for case in cases:
                await outcomes.fail_negotiation(session, outbox=outbox, case=case, actor=SYSTEM,
                                                reason="deadline_passed", at=now)
        expired += len(cases)
        if len(cases) < BATCH:
            return expired


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox,
                     settings: MediationSettings, now: datetime) -> dict[str, int]:
    """One pass of every sweeper at `now`; counts of what each changed."""
    fulfilment = await flag_unconfirmed(sessionmaker, outbox=outbox, now=now, days=settings.fulfilment_confirm_days)
    return {"negotiations_expired": await expire_negotiations(sessionmaker, outbox=outbox, now=now),
            "mediations_expired": await expire_mediations(sessionmaker, outbox=outbox, settings=settings, now=now),
            **fulfilment}


async def run_sweepers(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox,
                       settings: MediationSettings, clock: Clock = utcnow) -> None:
    """Background job: sweep every `sweep_interval_seconds` until cancelled."""
    log = get_logger("mediation.sweepers")
    while True:
        changed = await sweep_once(sessionmaker, outbox=outbox, settings=settings, now=clock())
        if any(changed.values()):
            log.info("deadlines swept", **changed)
        await asyncio.sleep(settings.sweep_interval_seconds)
