"""Database failures that are the database's fault answer 503 with Retry-After; the rest keep their own treatment.

Each failure is produced for real: a server that refuses connections, a backend terminated under a session, a lock
wait that times out, a constraint violated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit import infra
from servicekit.db import create_engine
from servicekit.dbfailures import (
    install_database_outage_handler,
    is_database_unavailable,
    is_transient_database_failure,
)
from servicekit.problems import install_problem_handlers
from servicekit.settings import ServiceSettings


def app_on(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_database_outage_handler(app, retry_after_seconds=7)

    @app.get("/select")
    async def select_one() -> int:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT 1")) or 0)

    @app.get("/divide")
    async def divide_by_zero() -> int:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT 1 / 0")) or 0)

    return app


@pytest.fixture
async def unreachable_engine(settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on a port where nothing listens."""
    engine = create_engine(settings.model_copy(update={
        "database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{infra.free_port()}/postgres"}))
    yield engine
    await engine.dispose()


async def test_a_database_that_refuses_connections_answers_503_with_retry_after(
    unreachable_engine: AsyncEngine,
) -> None:
    transport = httpx.ASGITransport(app=app_on(unreachable_engine), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await asyncio.wait_for(client.get("/select"), 10)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/temporarily-unavailable"


async def test_an_error_of_the_statement_itself_stays_a_500(engine: AsyncEngine) -> None:
    transport = httpx.ASGITransport(app=app_on(engine), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        assert (await client.get("/select")).json() == 1
        response = await client.get("/divide")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_a_terminated_backend_is_unavailability(engine: AsyncEngine) -> None:
    async with engine.connect() as victim, engine.connect() as killer:
        pid = await victim.scalar(text("SELECT pg_backend_pid()"))
        await killer.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as lost:
            await victim.execute(text("SELECT 1"))
    assert is_database_unavailable(lost.value)


async def test_the_pool_heals_after_the_database_drops_its_connections(engine: AsyncEngine) -> None:
    """Pooled connections are not pinged before use: after a restart one request answers 503 and the pool, knowing
    its connections are dead, opens new ones for the next."""
    async with engine.connect() as killer:
        async with engine.connect() as first, engine.connect() as second:
            pooled = [await connection.scalar(text("SELECT pg_backend_pid()")) for connection in (first, second)]
        await killer.scalar(text("SELECT count(pg_terminate_backend(pid)) FROM unnest(CAST(:pids AS int[])) AS pid"),
                            {"pids": pooled})
    transport = httpx.ASGITransport(app=app_on(engine), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answers = [(await client.get("/select")).status_code for _ in range(3)]
    assert answers[-2:] == [200, 200], answers
    assert set(answers) <= {200, 503}, answers


async def test_a_lock_timeout_is_transient_but_not_unavailability(engine: AsyncEngine) -> None:
    async with engine.connect() as holder, engine.connect() as waiter:
        await holder.execute(text("LOCK TABLE effect IN ACCESS EXCLUSIVE MODE"))
        await waiter.execute(text("SET lock_timeout = '50ms'"))
        with pytest.raises(DBAPIError) as timed_out:
            await waiter.execute(text("SELECT count(*) FROM effect"))
        await holder.rollback()
    assert is_transient_database_failure(timed_out.value)
    assert not is_database_unavailable(timed_out.value)


async def test_a_violated_constraint_is_neither(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as violated:
            await connection.execute(text("INSERT INTO effect (event_id, note) VALUES (NULL, 'x')"))
    assert not is_transient_database_failure(violated.value)
