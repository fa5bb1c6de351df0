"""The breach sweeper as a background job: every few seconds, breach what ran out by the injected clock's now."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.complaint.service import sweep_breaches
from complaints.publisher import Publisher
from servicekit.db import utcnow


class BreachSweeper:
    """Runs `sweep_breaches` every `interval` seconds until cancelled; `clock` is injectable for tests."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], publisher: Publisher, interval: float,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher
        self.interval = interval
        self.clock = clock

    async def run(self) -> None:
        """Sweep, sleep, repeat; a database failure propagates so the supervisor restarts the job."""
        while True:
            await sweep_breaches(self.sessionmaker, now=self.clock(), publisher=self.publisher)
            await asyncio.sleep(self.interval)
