"""Which event types each enterprise's enabled endpoint takes, remembered by the consumer process.

Most case events concern an enterprise whose endpoint does not take them (or that has none); knowing that without a
query is what lets the inbox handler spend no statement on them. The record is only ever used to skip: an event the
record says is wanted is inserted by a statement that checks the endpoint again, so a stale "wanted" (an endpoint
disabled or narrowed a moment ago) costs one statement, never a wrong delivery.

A stale "not wanted" would lose a delivery, so an entry lives at most `ttl` seconds and is dropped as soon as the
endpoint changes: saving it sends `ENDPOINTS_CHANGED_CHANNEL` in its transaction, and `listen` (a background job)
forgets the enterprise when the NOTIFY comes. While nothing listens (before the job has started, after its connection
broke) the record is not trusted at all and every event is checked by the database.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from merchants.webhooks.models import WebhookEndpoint
from servicekit.observability import get_logger

ENDPOINTS_CHANGED_CHANNEL = "webhook_endpoints_changed"
# Bounds the record when enterprises are many; dropping it all is cheap (one query per enterprise to fill it again).
MAX_ENTRIES = 100_000

log = get_logger("merchants.webhooks")


class EndpointSubscriptions:
    """Per enterprise: the event types its enabled endpoint takes, or None when it has no enabled endpoint."""

    def __init__(self, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[uuid.UUID, tuple[float, frozenset[str] | None]] = {}
        self._trusted = False
        # Counts the changes heard: an answer read while one came in may predate it, so it is not kept.
        self._changes = 0

    @property
    def listening(self) -> bool:
        """True while endpoint changes are heard, so what is remembered is used."""
        return self._trusted

    async def event_types(self, session: AsyncSession, merchant_id: uuid.UUID) -> frozenset[str] | None:
        """The enterprise's subscribed event types (None: no enabled endpoint), from the record while it is fresh."""
        now = self.clock()
        if self._trusted:
            entry = self._entries.get(merchant_id)
            if entry is not None and entry[0] > now:
                return entry[1]
        changes = self._changes
        listed = await session.scalar(
            select(WebhookEndpoint.event_types)
            .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.disabled_at.is_(None)))
        event_types = frozenset(listed) if listed is not None else None
        if self._trusted and changes == self._changes:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[merchant_id] = (now + self.ttl, event_types)
        return event_types

    def forget(self, merchant_id: uuid.UUID | None = None) -> None:
        """Drop what is known of one enterprise, or of all of them."""
        self._changes += 1
        if merchant_id is None:
            self._entries.clear()
        else:
            self._entries.pop(merchant_id, None)

    async def listen(self, engine: AsyncEngine) -> None:
        """Background job: trust the record only while endpoint changes are heard; returns never (cancelled)."""
        async with engine.connect() as connection:
            try:
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                await driver.add_listener(ENDPOINTS_CHANGED_CHANNEL, self._on_notify)
                # Outside a transaction, so notifications are delivered as they come.
                await connection.commit()
                self.forget()  # whatever changed while nobody listened
                self._trusted = True
                while True:
                    # A broken connection delivers nothing: find out, so the record stops being trusted.
                    await asyncio.sleep(self.ttl)
                    await connection.exec_driver_sql("SELECT 1")
                    await connection.commit()
            finally:
                self._trusted = False
                self.forget()
                # Closing the connection (not returning it to the pool) ends the LISTEN for sure.
                await connection.invalidate()

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.forget(uuid.UUID(payload))
        except ValueError:
            log.warning("unreadable endpoint change notification", payload=payload)
            self.forget()
