"""Live case feed: one LISTEN connection per process fans PostgreSQL notifications out to the open streams.

Every use case NOTIFYs once its transaction has committed (`trail.notify`), so a stream hears about a change made by
any process, and only once it is visible.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

from mediation.cases.trail import FEED_CHANNEL
from servicekit.observability import get_logger

QUEUE_LIMIT = 1_000

Notice = dict[str, Any]


class CaseFeed:
    """Subscribers register per case; `run` (a background job) listens and delivers until cancelled."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._subscribers: dict[uuid.UUID, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self.listening = asyncio.Event()
        self._log = get_logger("mediation.live")

    async def run(self) -> None:
        """Listen until the connection drops (then raise, so the supervisor reconnects) or the job is cancelled."""
        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(FEED_CHANNEL, self._deliver)
            self.listening.set()
            await lost.wait()
            raise ConnectionError("the live feed's database connection was lost")
        finally:
            self.listening.clear()
            if not connection.is_closed():
                await connection.close()

    def _deliver(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        notice: Notice = json.loads(payload)
        for queue in self._subscribers.get(uuid.UUID(notice["case_id"]), ()):
            try:
                queue.put_nowait(notice)
            except asyncio.QueueFull:
                # A stream this far behind is stuck; the client re-reads the case when it reconnects.
                self._log.warning("live stream queue full; notice dropped", case_id=notice["case_id"])

    @contextmanager
    def subscribe(self, case_id: uuid.UUID) -> Iterator[asyncio.Queue[Notice]]:
        """A queue of the case's notices for as long as the block runs."""
        queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers[case_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[case_id].discard(queue)
            if not self._subscribers[case_id]:
                del self._subscribers[case_id]
