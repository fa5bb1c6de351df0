"""Retention: published outbox rows and inbox rows older than the period go; everything else stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.retention import BATCH, RetentionJob


async def test_expired_published_and_applied_rows_are_pruned_and_the_rest_kept(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox, inbox: Table,
) -> None:
    now = utcnow()
    old, recent = now - timedelta(hours=25), now - timedelta(hours=1)
    rows = [{"id": uuid.uuid4(), "topic": "t", "aggregate_id": "a", "event_type": "t.x.v1", "headers": {},
             "payload": {}, "published_at": published_at}
            for published_at in [old] * (BATCH + 5) + [recent, None]]
    # A row never published stays however old it is: its event has not reached the broker yet.
    rows[-1]["created_at"] = old
    async with engine.begin() as connection:
        await connection.execute(outbox.table.insert(), [{"created_at": now, **row} for row in rows])
        await connection.execute(inbox.insert(), [
            {"consumer_group": "g", "event_id": uuid.uuid4(), "event_type": "t.x.v1", "processed_at": at}
            for at in (old, old, recent)])

    job = RetentionJob(sessionmaker, outbox=outbox.table, inbox=inbox, retention=timedelta(hours=24), interval=1.0)
    deleted = await job.prune_once(now)

    assert deleted == {"outbox": BATCH + 5, "inbox": 2}
    async with engine.connect() as connection:
        kept = (await connection.execute(select(outbox.table.c.published_at))).scalars().all()
        assert sorted(kept, key=lambda at: at is None) == [recent, None]
        assert (await connection.execute(select(func.count()).select_from(inbox))).scalar_one() == 1
        await connection.execute(text("SELECT 1"))
    assert await job.prune_once(now) == {"outbox": 0, "inbox": 0}


async def test_extra_steps_run_with_the_job(sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
                                            inbox: Table) -> None:
    seen = []

    async def step(session: AsyncSession, now: object) -> int:
        seen.append(now)
        return 3

    job = RetentionJob(sessionmaker, outbox=outbox.table, inbox=inbox, retention=timedelta(hours=1), interval=1.0,
                       extra=[("mine", step)])
    at = utcnow()
    assert (await job.prune_once(at))["mine"] == 3
    assert seen == [at]
