"""Outbox and inbox tables, added to each service's own metadata and created by its migrations."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, MetaData, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID


def outbox_table(metadata: MetaData) -> Table:
    """Debezium-shaped outbox plus the relay's bookkeeping; `seq` is the publication order."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("aggregate_id", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
        # Set when the broker refused the row for good; the relay leaves it aside until an operator replays it.
        Column("parked_at", DateTime(timezone=True)),
        # The relay's claim query reads only unpublished rows in order; published ones stay for re-publication.
        Index("ix_outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
        # Published rows are pruned after the retention period (servicekit.retention).
        Index("ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
        Index("ix_outbox_parked", "seq", postgresql_where=text("parked_at IS NOT NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    """One row per (consumer group, event id) applied; inserted in the same transaction as the effect."""
    return Table(
        "inbox",
        metadata,
        Column("consumer_group", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_inbox_processed_at", "processed_at"),
    )
