"""Retention of the event tables: published outbox rows and inbox rows are deleted once older than the period.

One period (`ODR_EVENT_RETENTION_HOURS`, 7 days by default) bounds both, and the runner re-publishes after a restart
of the in-memory broker only the outbox rows published within it. An inbox row is written after its event was
published, so it outlives the outbox row it deduplicates: any event a relay can still send again finds its inbox row
and is dropped as a duplicate. A consumer that is down for longer than the period on a broker that keeps its topics
is unaffected (the broker, not the outbox, holds the events it has not read).

Each service's `<service>/jobs.py` runs `RetentionJob` as `retention-pruner`, with the pruning of its own expiring
records (complaints' idempotency keys) added as extra steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.db import utcnow
from servicekit.observability import get_logger

BATCH = 1000

# One pruning step: deletes up to a batch of expired rows at `now` in the session's transaction, returns how many.
Pruner = Callable[[AsyncSession, datetime], Awaitable[int]]


async def prune_outbox(session: AsyncSession, outbox: Table, *, older_than: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` outbox rows published before `older_than` (unpublished rows are never touched)."""
    doomed = (select(outbox.c.seq).where(outbox.c.published_at.is_not(None), outbox.c.published_at < older_than)
              .order_by(outbox.c.published_at).limit(batch).with_for_update(skip_locked=True).scalar_subquery())
    result = await session.execute(delete(outbox).where(outbox.c.seq.in_(doomed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_inbox(session: AsyncSession, inbox: Table, *, older_than: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` inbox rows of events applied before `older_than`."""
    doomed = (select(inbox.c.consumer_group, inbox.c.event_id).where(inbox.c.processed_at < older_than)
              .order_by(inbox.c.processed_at).limit(batch).with_for_update(skip_locked=True).cte("doomed"))
    result = await session.execute(delete(inbox).where(inbox.c.consumer_group == doomed.c.consumer_group,
                                                       inbox.c.event_id == doomed.c.event_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class RetentionJob:
    """Prunes the outbox, the inbox and any `extra` expiring records every `interval` seconds, a batch per
    transaction until nothing is left; replicas may run it side by side (SKIP LOCKED)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Table, inbox: Table,
                 retention: timedelta, interval: float, extra: Sequence[tuple[str, Pruner]] = ()) -> None:
        self.sessionmaker = sessionmaker
        self.retention = retention
        self.interval = interval
        self.steps: list[tuple[str, Pruner]] = [
            ("outbox", lambda session, now: prune_outbox(session, outbox, older_than=now - retention)),
            ("inbox", lambda session, now: prune_inbox(session, inbox, older_than=now - retention)),
            *extra,
        ]
        self.log = get_logger("servicekit.retention")

    async def prune_once(self, now: datetime | None = None) -> dict[str, int]:
        """Every step run to exhaustion at `now`; how many rows each deleted."""
        at = now or utcnow()
        deleted: dict[str, int] = {}
        for name, step in self.steps:
            total = 0
            while True:
                async with self.sessionmaker() as session, session.begin():
                    count = await step(session, at)
                total += count
                if count < BATCH:
                    break
            deleted[name] = total
        return deleted

    async def run(self) -> None:
        while True:
            deleted = await self.prune_once()
            if any(deleted.values()):
                self.log.info("expired rows pruned", **deleted)
            await asyncio.sleep(self.interval)
