"""The request dependencies every service uses: a session per request on the runtime's database, the runtime."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.app import ServiceRuntime
from servicekit.db import TimezoneAware, new_metadata
from servicekit.dependencies import DbSession, Runtime
from servicekit.events.outbox import Outbox
from servicekit.settings import ServiceSettings


async def test_each_request_gets_its_own_session_returned_after_the_response(
        settings: ServiceSettings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Outbox) -> None:
    app = FastAPI()
    app.state.runtime = ServiceRuntime(settings=settings, engine=engine, sessionmaker=sessionmaker, outbox=outbox)
    sessions: list[int] = []

    @app.get("/backend")
    async def backend(session: DbSession, runtime: Runtime) -> dict[str, object]:
        sessions.append(id(session))
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return {"pid": pid, "service": runtime.settings.service_name,
                "same_runtime": runtime is app.state.runtime}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://service") as client:
        answers = [(await client.get("/backend")).json() for _ in range(2)]

    assert [answer["service"] for answer in answers] == [settings.service_name] * 2
    assert all(answer["same_runtime"] for answer in answers)
    assert sessions[0] != sessions[1]
    # Closed with the request: the connection went back to the pool, and the next request got it again.
    assert engine.pool.checkedout() == 0
    assert answers[0]["pid"] == answers[1]["pid"]


def test_timezone_aware_bases_keep_their_own_metadata_and_registry() -> None:
    first_metadata, second_metadata = new_metadata(), new_metadata()

    class First(TimezoneAware, DeclarativeBase):
        metadata = first_metadata

    class Second(TimezoneAware, DeclarativeBase):
        metadata = second_metadata

    class Thing(First):
        __tablename__ = "thing"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
        at: Mapped[datetime]

    class OtherThing(Second):
        __tablename__ = "thing"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

    assert Thing.__table__.c.at.type.timezone is True
    assert Thing.__table__.metadata is first_metadata
    assert OtherThing.__table__.metadata is second_metadata
    assert First.registry is not Second.registry
    assert str(Thing.__table__.primary_key.name) == "pk_thing"
