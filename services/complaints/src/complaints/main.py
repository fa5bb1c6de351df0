"""The complaints service: `uvicorn complaints.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from complaints.api import ROUTERS
from complaints.consumers import merchants as merchant_events
from complaints.database import inbox, outbox
from complaints.dependencies import PII_CIPHER
from complaints.settings import ComplaintsSettings
from servicekit.app import BackgroundJob, ServiceRuntime, create_service_app
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.pii import PiiCipher


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    """Build the service from `settings` (from the environment when not given)."""
    settings = settings or ComplaintsSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(runtime.settings.pii_key.get_secret_value())

    def background(runtime: ServiceRuntime) -> dict[str, BackgroundJob]:
        relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=runtime.settings)
        on_merchants = InboxConsumer(
            group=merchant_events.GROUP,
            topics=CONSUMER_GROUPS[merchant_events.GROUP],
            handlers=merchant_events.HANDLERS,
            sessionmaker=runtime.sessionmaker,
            inbox=inbox,
            settings=runtime.settings,
        )
        return {"outbox-relay": relay.run, f"consumer-{merchant_events.GROUP}": on_merchants.run}

    return create_service_app(
        settings=settings,
        title="ODR complaints",
        description="Intake, routing, deadlines and timeline of consumer complaints.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=background,
        on_startup=on_startup,
    )
