"""The mediation service: negotiation and mediation cases opened from routed complaints.

Run with ``uvicorn mediation.main:create_app --factory``.
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from mediation.api import ROUTERS
from mediation.consumers.complaints import GROUP as COMPLAINTS_GROUP
from mediation.consumers.complaints import complaint_handlers
from mediation.database import inbox, outbox
from mediation.dependencies import ATTACHMENT_STORE, CASE_FEED, PII_CIPHER
from mediation.live import CaseFeed, asyncpg_dsn
from mediation.outcomes.jobs import run_outcome_signals
from mediation.settings import MediationSettings
from mediation.sweepers import run_sweepers
from servicekit.app import BackgroundJob, ServiceRuntime, create_service_app
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.pii import PiiCipher
from servicekit.uploads import LocalDiskStore


def create_app(settings: MediationSettings | None = None) -> FastAPI:
    """Build the mediation app; settings come from the environment unless given."""
    settings = settings or MediationSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(settings.pii_key.get_secret_value())
        runtime.extras[CASE_FEED] = CaseFeed(asyncpg_dsn(settings.sqlalchemy_url))
        runtime.extras[ATTACHMENT_STORE] = LocalDiskStore(settings.attachment_dir)

    def background(runtime: ServiceRuntime) -> dict[str, BackgroundJob]:
        relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=settings)
        on_complaints = InboxConsumer(
            group=COMPLAINTS_GROUP,
            topics=CONSUMER_GROUPS[COMPLAINTS_GROUP],
            handlers=complaint_handlers(outbox=runtime.outbox, cipher=runtime.extras[PII_CIPHER],
                                        settings=settings),
            sessionmaker=runtime.sessionmaker,
            inbox=inbox,
            settings=settings,
        )
        sweepers = partial(run_sweepers, runtime.sessionmaker, outbox=runtime.outbox, settings=settings)
        outcome_signals = partial(run_outcome_signals, runtime.sessionmaker,
                                  interval_seconds=settings.outcome_signal_interval_seconds)
        return {"outbox-relay": relay.run, f"consumer-{COMPLAINTS_GROUP}": on_complaints.run, "sweepers": sweepers,
                "live-feed": runtime.extras[CASE_FEED].run, "outcome-signals": outcome_signals}

    return create_service_app(
        settings=settings,
        title="ODR mediation service",
        description="Negotiation between consumer and enterprise, regulator mediation and their outcomes.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=background,
        on_startup=on_startup,
    )
