"""Background job: checks the scorecards against the thresholds every `scorecard_evaluation_interval` seconds."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.scorecards import service as scorecard_service
from merchants.settings import MerchantsSettings
from servicekit.app import BackgroundJob
from servicekit.db import utcnow
from servicekit.observability import get_logger

log = get_logger("merchants.scorecards")


def evaluator(sessionmaker: async_sessionmaker[AsyncSession], settings: MerchantsSettings) -> BackgroundJob:
    """The job: evaluate, log what was raised, sleep, repeat."""

    async def run() -> None:
        while True:
            async with sessionmaker() as session:
                raised = await scorecard_service.evaluate(session, settings=settings, now=utcnow())
            for flag in raised:
                log.warning("scorecard flag raised", merchant_id=str(flag.merchant_id), level=flag.level,
                            reasons=flag.reasons)
            await asyncio.sleep(settings.scorecard_evaluation_interval)

    return run
