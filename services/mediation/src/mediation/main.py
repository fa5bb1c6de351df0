"""The mediation service: negotiation and mediation cases opened from routed complaints.

Run with ``uvicorn mediation.main:create_app --factory``.
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from mediation.api import ROUTERS
from mediation.database import outbox
from mediation.dependencies import ATTACHMENT_STORE, CASE_FEED, PII_CIPHER
from mediation.jobs import background_jobs
from mediation.live import CaseFeed
from mediation.settings import MediationSettings
from servicekit.app import ServiceRuntime, create_service_app
from servicekit.db import asyncpg_dsn
from servicekit.pii import PiiCipher
from servicekit.uploads import LocalDiskStore


def create_app(settings: MediationSettings | None = None) -> FastAPI:
    """Build the mediation app; settings come from the environment unless given."""
    settings = settings or MediationSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(settings.pii_key.get_secret_value())
        runtime.extras[CASE_FEED] = CaseFeed(asyncpg_dsn(settings.sqlalchemy_url))
        runtime.extras[ATTACHMENT_STORE] = LocalDiskStore(settings.attachment_dir)

    return create_service_app(
        settings=settings,
        title="ODR mediation service",
        description="Negotiation between consumer and enterprise, regulator mediation and their outcomes.",
        routers=ROUTERS,
        outbox_table=outbox,
        background=partial(background_jobs, settings=settings),
        on_startup=on_startup,
    )
