"""Live case changes: whenever a use case gives a case row a new version, it announces the case id on
`complaints_case` once its transaction has committed (`announce_change`, in whatever process made the change), and
each process fans the notifications out to the event streams it serves. A relay that fans changes out itself (each
gateway process) takes the whole feed of changed case ids instead, over one connection (`feed`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.notify import notify_after_commit
from servicekit.sse import Followers

CHANNEL = "complaints_case"
KEEPALIVE_SECONDS = 30.0
# Told to a feed instead of a case id: changes may have gone unannounced, so everything followed must be re-read.
RESYNC = "*"
# Case ids a feed may fall behind by before it is told RESYNC instead of each of them.
FEED_BACKLOG = 10_000


def announce_change(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Tell every stream of the case that it has a new version, once the session's transaction has committed."""
    notify_after_commit(session, CHANNEL, str(case_id))


class CaseChanges:
    """One LISTEN connection per process; subscribers get an Event set whenever their case changed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._followers = Followers()
        self._feeds: set[asyncio.Queue[str]] = set()

    async def run(self) -> None:
        """Listen until cancelled; a dead connection raises, so the supervisor starts listening afresh."""
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(CHANNEL, self._on_notify)
            # Notifications arrive only while the connection is outside a transaction.
            await connection.commit()
            # Changes made while no connection listened (before a restart) were never announced: everyone re-reads.
            self._followers.wake_all()
            for feed in self._feeds:
                _resync(feed)
            try:
                while True:
                    await asyncio.sleep(KEEPALIVE_SECONDS)
                    await connection.exec_driver_sql("SELECT 1")
                    await connection.commit()
            finally:
                await driver.remove_listener(CHANNEL, self._on_notify)

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._followers.wake(payload)
        for feed in self._feeds:
            try:
                feed.put_nowait(payload)
            except asyncio.QueueFull:
                _resync(feed)

    def subscribe(self, case_id: uuid.UUID) -> AbstractContextManager[asyncio.Event]:
        """An Event set on every change of the case, for as long as the block runs."""
        return self._followers.follow(str(case_id))

    @contextmanager
    def feed(self) -> Iterator[asyncio.Queue[str]]:
        """Every changed case id, in commit order, for as long as the block runs; it starts with RESYNC, and RESYNC
        replaces whatever a reader too slow to keep FEED_BACKLOG ids has not taken yet."""
        feed: asyncio.Queue[str] = asyncio.Queue(FEED_BACKLOG)
        feed.put_nowait(RESYNC)
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)


def _resync(feed: asyncio.Queue[str]) -> None:
    while not feed.empty():
        feed.get_nowait()
    feed.put_nowait(RESYNC)
