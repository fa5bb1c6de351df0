"""The statistics compactor as a background job: every interval, fold the deltas the triggers appended into cubes."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.stats.service import fold


class StatsCompactor:
    """Runs `fold` every `interval` seconds until cancelled. Queries are exact whether or not it has run (they add
    the deltas not folded yet); folding keeps the deltas they read few."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self.sessionmaker = sessionmaker
        self.interval = interval

    async def run(self) -> None:
        """Fold, sleep, repeat; a database failure propagates so the supervisor restarts the job."""
        while True:
            async with self.sessionmaker() as session, session.begin():
                await fold(session)
            await asyncio.sleep(self.interval)
