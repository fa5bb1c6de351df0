"""Readiness: a replica is ready while its database answers, whatever the broker does (events wait in the outbox),
and not ready when the database is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import Column, Integer, MetaData, Table

from servicekit.app import create_service_app
from servicekit.infra import free_port
from servicekit.settings import ServiceSettings

OUTBOX = Table("readiness_probe_outbox", MetaData(), Column("seq", Integer, primary_key=True))


@asynccontextmanager
async def service(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # No broker listens on this port: nothing the readiness check may depend on.
    settings = ServiceSettings(service_name="readiness-probe", database_url=database_url, database_name="postgres",
                               kafka_bootstrap=f"127.0.0.1:{free_port()}")
    app = create_service_app(settings=settings, title="probe", description="probe", routers=[], outbox_table=OUTBOX)
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                        base_url="http://probe") as client:
        yield client


async def test_a_replica_with_its_database_is_ready_while_the_broker_is_unreachable(database_url: str) -> None:
    async with service(database_url) as client:
        ready = await client.get("/readyz")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_a_replica_without_its_database_is_not_ready() -> None:
    async with service(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres") as client:
        ready = await client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")
