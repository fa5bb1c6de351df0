"""Transactional outbox: events are rows written in the use case's own transaction."""

from __future__ import annotations

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.events.envelope import EventEnvelope
from servicekit.notify import notify_after_commit


class Outbox:
    """Writes events into a service's outbox table; the relay publishes them after commit."""

    def __init__(self, table: Table, service_name: str) -> None:
        self.table = table
        self.notify_channel = f"outbox_{service_name}".replace("-", "_")
        # The parameters are passed beside the statement, so it compiles once (a multi-row VALUES would compile
        # per call: its JSON values cannot be cached); several rows still go in one INSERT (insertmanyvalues).
        self._insert = insert(table)

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

    async def add(self, session: AsyncSession, *events: EventEnvelope) -> None:
        """Stage events in the caller's transaction; never commits (the use case does). The relay is woken once the
        transaction has committed (servicekit.notify)."""
        if not events:
            return
        await session.execute(self._insert, self.rows(*events))
        notify_after_commit(session, self.notify_channel)
