"""The consultation sweeper as a background job: breach the answer clocks that ran out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.consultation.service import sweep_breaches
from servicekit.db import utcnow


class ConsultationSweeper:
    """Runs `sweep_breaches` every `interval` seconds until cancelled; `clock` is injectable for tests."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], interval: float,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessionmaker = sessionmaker
        self.interval = interval
        self.clock = clock

    async def run(self) -> None:
        """Sweep, sleep, repeat; a database failure propagates so the supervisor restarts the job."""
        while True:
            await sweep_breaches(self.sessionmaker, now=self.clock())
            await asyncio.sleep(self.interval)
