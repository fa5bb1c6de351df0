"""The merchants service: registry, ODR enrollment, enterprise credentials, webhooks and scorecards.

Run with ``uvicorn merchants.main:create_app --factory``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI

from merchants.api import ROUTERS
from merchants.consumers import case_events
from merchants.credentials.hashing import burn_verification
from merchants.database import inbox, outbox
from merchants.scorecards.evaluator import evaluator
from merchants.settings import MerchantsSettings
from merchants.webhooks.dispatcher import WebhookDispatcher
from merchants.webhooks.router import PII_CIPHER
from servicekit.app import BackgroundJob, ServiceRuntime, create_service_app
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.pii import PiiCipher


def create_app(settings: MerchantsSettings | None = None) -> FastAPI:
    """Build the merchants app; settings come from the environment unless given."""
    settings = settings or MerchantsSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(settings.pii_key.get_secret_value())
        # Computes the dummy hash now, so the first check of an unknown client is not measurably slower.
        await asyncio.to_thread(burn_verification, "")

    def background(runtime: ServiceRuntime) -> dict[str, BackgroundJob]:
        relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=settings)
        dispatcher = WebhookDispatcher(engine=runtime.engine, sessionmaker=runtime.sessionmaker,
                                       outbox=runtime.outbox, settings=settings, cipher=runtime.extras[PII_CIPHER])
        jobs: dict[str, BackgroundJob] = {"outbox-relay": relay.run, "webhook-dispatcher": dispatcher.run,
                                          "scorecard-evaluator": evaluator(runtime.sessionmaker, settings)}
        retry_window = timedelta(seconds=settings.webhook_retry_window_seconds)
        for group, handlers in case_events.handlers(retry_window=retry_window).items():
            consumer = InboxConsumer(group=group, topics=CONSUMER_GROUPS[group], handlers=handlers,
                                     sessionmaker=runtime.sessionmaker, inbox=inbox, settings=settings)
            jobs[f"consumer-{group}"] = consumer.run
        return jobs

    return create_service_app(
        settings=settings,
        title="ODR merchants service",
        description="Merchant registry, ODR enrollment, the credentials enterprises use, webhooks and scorecards.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=background,
        on_startup=on_startup,
    )
