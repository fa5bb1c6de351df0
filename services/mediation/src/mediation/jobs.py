"""The background jobs of the mediation service: the outbox relay, the complaints consumer, the deadline sweepers,
the live feed and the outcome-signals job."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.consumers.complaints import GROUP as COMPLAINTS_GROUP
from mediation.consumers.complaints import complaint_handlers
from mediation.database import inbox, outbox
from mediation.dependencies import ATTACHMENT_STORE, CASE_FEED
from mediation.fulfilment.service import flag_unconfirmed
from mediation.negotiation.service import expire_negotiations
from mediation.outcomes.jobs import run_outcome_signals
from mediation.regulator.service import expire_mediations
from mediation.settings import MediationSettings
from servicekit.app import BackgroundJob, ServiceRuntime
from servicekit.db import utcnow
from servicekit.events.inbox import InboxConsumer
from servicekit.events.outbox import Outbox
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.retention import RetentionJob

Clock = Callable[[], datetime]


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox, cipher: PiiCipher,
                     settings: MediationSettings, now: datetime) -> dict[str, int]:
    """One pass of every deadline sweeper at `now`; counts of what each changed. Each claims due rows with
    FOR UPDATE SKIP LOCKED and is safe to run again."""
    fulfilment = await flag_unconfirmed(sessionmaker, outbox=outbox, now=now, days=settings.fulfilment_confirm_days)
    return {"negotiations_expired": await expire_negotiations(sessionmaker, outbox=outbox, now=now),
            "mediations_expired": await expire_mediations(sessionmaker, outbox=outbox, cipher=cipher, settings=settings,
                                                          now=now),
            **fulfilment}


async def run_sweepers(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox, cipher: PiiCipher,
                       settings: MediationSettings, clock: Clock = utcnow) -> None:
    """Sweep every `sweep_interval_seconds` until cancelled."""
    log = get_logger("mediation.sweepers")
    while True:
        changed = await sweep_once(sessionmaker, outbox=outbox, cipher=cipher, settings=settings, now=clock())
        if any(changed.values()):
            log.info("deadlines swept", **changed)
        await asyncio.sleep(settings.sweep_interval_seconds)


def background_jobs(runtime: ServiceRuntime, settings: MediationSettings) -> dict[str, BackgroundJob]:
    """Every job the service runs beside its HTTP API, by name."""
    relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=settings)
    on_complaints = InboxConsumer(
        group=COMPLAINTS_GROUP,
        topics=CONSUMER_GROUPS[COMPLAINTS_GROUP],
        handlers=complaint_handlers(outbox=runtime.outbox, cipher=runtime.cipher, settings=settings,
                                    attachments=runtime.extras[ATTACHMENT_STORE]),
        sessionmaker=runtime.sessionmaker,
        inbox=inbox,
        settings=settings,
    )
    sweepers = partial(run_sweepers, runtime.sessionmaker, outbox=runtime.outbox, cipher=runtime.cipher,
                       settings=settings)
    outcome_signals = partial(run_outcome_signals, runtime.sessionmaker,
                              interval_seconds=settings.outcome_signal_interval_seconds)
    retention = RetentionJob(runtime.sessionmaker, outbox=outbox, inbox=inbox,
                             retention=timedelta(hours=settings.event_retention_hours),
                             interval=settings.retention_prune_interval)
    return {"outbox-relay": relay.run, f"consumer-{COMPLAINTS_GROUP}": on_complaints.run, "sweepers": sweepers,
            "live-feed": runtime.extras[CASE_FEED].run, "outcome-signals": outcome_signals,
            "retention-pruner": retention.run}
