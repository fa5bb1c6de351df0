"""The merchants service: registry, ODR enrollment, enterprise credentials, webhooks and scorecards.

Run with ``uvicorn merchants.main:create_app --factory``.
"""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import FastAPI

from merchants.api import ROUTERS
from merchants.credentials.hashing import burn_verification
from merchants.database import outbox
from merchants.jobs import background_jobs
from merchants.settings import MerchantsSettings
from merchants.webhooks.router import PII_CIPHER
from servicekit.app import ServiceRuntime, create_service_app
from servicekit.pii import PiiCipher


def create_app(settings: MerchantsSettings | None = None) -> FastAPI:
    """Build the merchants app; settings come from the environment unless given."""
    settings = settings or MerchantsSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(settings.pii_key.get_secret_value())
        # Computes the dummy hash now, so the first check of an unknown client is not measurably slower.
        await asyncio.to_thread(burn_verification, "")

    return create_service_app(
        settings=settings,
        title="ODR merchants service",
        description="Merchant registry, ODR enrollment, the credentials enterprises use, webhooks and scorecards.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=partial(background_jobs, settings=settings),
        on_startup=on_startup,
    )
