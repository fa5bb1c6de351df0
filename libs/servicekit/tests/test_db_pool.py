"""The engine's pool: twice the configured size at most, each connection kept once opened; autocommit on request."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from servicekit.db import autocommit_connection, create_engine, create_sessionmaker
from servicekit.settings import ServiceSettings


async def test_a_second_burst_opens_no_connection_and_the_pool_stops_at_twice_its_size(
    settings: ServiceSettings,
) -> None:
    engine = create_engine(settings.model_copy(update={"database_pool_size": 3}))
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda connection, _: opened.append(connection))
    inside: list[int] = []
    six_inside = asyncio.Event()
    release = asyncio.Event()

    async def use_one() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            inside.append(1)
            if len(inside) == 6:
                six_inside.set()
            await release.wait()

    async def burst(users: int) -> None:
        inside.clear()
        six_inside.clear()
        release.clear()
        tasks = [asyncio.create_task(use_one()) for _ in range(users)]
        await asyncio.wait_for(six_inside.wait(), timeout=10)
        await asyncio.sleep(0.3)
        assert len(inside) == 6, "a seventh connection waits for one of the six"
        release.set()
        await asyncio.gather(*tasks)

    try:
        await burst(6)
        assert len(opened) == 6
        await burst(6)
        assert len(opened) == 6, "the second burst reused the first one's connections"
        await burst(7)
        assert len(opened) == 6
    finally:
        await engine.dispose()


TRANSACTION_STARTED = text("SELECT transaction_timestamp()")


async def test_an_autocommit_session_runs_without_begin_and_the_next_session_gets_its_transaction_back(
    settings: ServiceSettings,
) -> None:
    engine = create_engine(settings.model_copy(update={"database_pool_size": 1}))
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            connection = await autocommit_connection(session)
            first = await connection.scalar(TRANSACTION_STARTED)
            second = await connection.scalar(TRANSACTION_STARTED)
            assert first < second, "each statement is a transaction of its own"
        async with sessions() as session:
            first = await session.scalar(TRANSACTION_STARTED)
            second = await session.scalar(TRANSACTION_STARTED)
            assert first == second, "the pooled connection left autocommit: the session's statements share a BEGIN"
    finally:
        await engine.dispose()
