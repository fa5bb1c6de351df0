"""Transactional outbox: events are rows written in the use case's own transaction."""

from __future__ import annotations

from sqlalchemy import Table, func, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from servicekit.events.envelope import EventEnvelope


class Outbox:
    """Writes events into a service's outbox table; the relay publishes them after commit."""

    def __init__(self, table: Table, service_name: str) -> None:
        self.table = table
        self.notify_channel = f"outbox_{service_name}".replace("-", "_")
        # The parameters are passed beside the statement, so it compiles once (a multi-row VALUES would compile
        # per call: its JSON values cannot be cached); several rows still go in one INSERT (insertmanyvalues).
        self._insert = insert(table).returning(func.pg_notify(self.notify_channel, ""))

    def rows(self, *events: EventEnvelope) -> list[dict[str, object]]:
        return [
            {
                "id": event.id,
                "topic": event.topic,
                "aggregate_id": event.subject,
                "event_type": event.type,
                "headers": dict((name, value.decode()) for name, value in event.kafka_headers()),
                "payload": event.data,
            }
            for event in events
        ]

    async def add(self, db: AsyncSession | AsyncConnection, *events: EventEnvelope) -> None:
        """Stage events in the caller's transaction; never commits (the use case does)."""
        if not events:
            return
        # The rows and the relay's wake-up in one statement (one round trip): NOTIFY is delivered on commit only,
        # and the repeated ones of a transaction (one per row here) fold into one.
        await db.execute(self._insert, self.rows(*events))
