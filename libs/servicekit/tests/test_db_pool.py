"""The engine's pool: twice the configured size at most, and every connection kept once opened."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from servicekit.db import create_engine
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
