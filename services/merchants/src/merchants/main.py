"""The merchants service: registry, ODR enrollment and enterprise credentials.

Run with ``uvicorn merchants.main:create_app --factory``.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from servicekit.app import BackgroundJob, ServiceRuntime, create_service_app
from servicekit.events.relay import OutboxRelay

from merchants.api import ROUTERS
from merchants.credentials.hashing import burn_verification
from merchants.database import outbox
from merchants.settings import MerchantsSettings


def create_app(settings: MerchantsSettings | None = None) -> FastAPI:
    """Build the merchants app; settings come from the environment unless given."""
    settings = settings or MerchantsSettings()

    async def on_startup(_: ServiceRuntime) -> None:
        # Computes the dummy hash now, so the first check of an unknown client is not measurably slower.
        await asyncio.to_thread(burn_verification, "")

    def background(runtime: ServiceRuntime) -> dict[str, BackgroundJob]:
        relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=settings)
        return {"outbox-relay": relay.run}

    return create_service_app(
        settings=settings,
        title="ODR merchants service",
        description="Merchant registry, ODR enrollment and the credentials enterprises use.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=background,
        on_startup=on_startup,
    )
