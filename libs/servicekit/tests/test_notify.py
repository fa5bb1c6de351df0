"""Wake-ups sent after commit (servicekit.notify): heard once the writing transaction commits, never for one that
rolls back, once per (channel, payload) however often recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.notify import notify_after_commit


@pytest.fixture
def channel() -> str:
    return f"notify_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def heard(engine: AsyncEngine, channel: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The payloads notified on `channel`, in the order they arrive."""
    payloads: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        payloads.put_nowait(payload)

    async with engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        await driver.add_listener(channel, on_notify)
        await connection.commit()
        yield payloads
        await driver.remove_listener(channel, on_notify)


async def next_heard(heard: asyncio.Queue[str]) -> str:
    return await asyncio.wait_for(heard.get(), timeout=5)


async def test_a_committed_transaction_is_heard_once_per_channel_and_payload_after_its_rows_are_visible(
    engine: AsyncEngine, channel: str, heard: asyncio.Queue[str],
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(text("INSERT INTO effect (event_id, note) VALUES (:id, :note)"),
                              {"id": uuid.uuid4(), "note": channel})
        notify_after_commit(session, channel, "a")
        notify_after_commit(session, channel, "a")
        notify_after_commit(session, channel, "b")
        await asyncio.sleep(0.2)
        assert heard.empty(), "nothing is sent before the commit"

    assert sorted([await next_heard(heard), await next_heard(heard)]) == ["a", "b"]
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM effect WHERE note = :note"), {"note": channel}) == 1
    await notify_in_autocommit(engine, channel, "fence")
    assert await next_heard(heard) == "fence", "a payload recorded twice was sent twice"


async def test_a_rolled_back_transaction_is_not_heard_but_a_rolled_back_savepoint_keeps_what_came_before(
    engine: AsyncEngine, channel: str, heard: asyncio.Queue[str],
) -> None:
    async with AsyncSession(engine) as session:
        async with session.begin():
            notify_after_commit(session, channel, "rolled back")
            await session.rollback()
        async with session.begin():
            notify_after_commit(session, channel, "before the savepoint")
            savepoint = await session.begin_nested()
            notify_after_commit(session, channel, "in the savepoint")
            await savepoint.rollback()

    await notify_in_autocommit(engine, channel, "fence")
    until_fence = [await next_heard(heard)]
    while until_fence[-1] != "fence":
        until_fence.append(await next_heard(heard))
    assert "before the savepoint" in until_fence
    assert "rolled back" not in until_fence


async def test_a_connection_in_autocommit_is_heard_at_once_and_one_in_a_transaction_is_refused(
    engine: AsyncEngine, channel: str, heard: asyncio.Queue[str],
) -> None:
    await notify_in_autocommit(engine, channel, "now")
    assert await next_heard(heard) == "now"

    async with engine.begin() as connection:
        await connection.execute(text("SELECT 1"))
        with pytest.raises(ValueError, match="autocommit"):
            notify_after_commit(connection, channel, "never")


async def notify_in_autocommit(engine: AsyncEngine, channel: str, payload: str) -> None:
    """As the complaints filing path does: a statement on a connection in autocommit, then its wake-up."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("SELECT 1"))
        notify_after_commit(autocommit, channel, payload)
