"""Alembic glue shared by the services: each service's env.py calls `run_migrations`."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.pii import PiiCipher
from servicekit.settings import ServiceSettings

# table -> its text columns to keep sealed, each with whether it is required
SealedColumns = dict[str, tuple[tuple[str, bool], ...]]


def run_migrations(metadata: MetaData, settings: ServiceSettings) -> None:
    """Apply migrations online against the service's own database (offline mode prints SQL)."""
    if context.is_offline_mode():
        context.configure(url=settings.sqlalchemy_url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(metadata, settings))


async def _run_online(metadata: MetaData, settings: ServiceSettings) -> None:
    engine = create_async_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_apply, metadata)
    await engine.dispose()


# Any fixed key: every service has its own database, and advisory locks are per database.
MIGRATION_LOCK_KEY = 0x0D12_315


def _apply(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        # Replicas starting together (Kubernetes init containers) each run the upgrade: the first applies it, the
        # others wait here, then find the database at head and do nothing.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()



def create_event_tables() -> None:
    """Create the outbox (with its index of unpublished rows) and the inbox, as `events.tables` defines them.

    Called from each service's first migration. A later change to these tables is a new
    function here and a new migration in every service, never an edit of this one.
    """
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("aggregate_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("id", name="uq_outbox_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["seq"], postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.String(200), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id", name="pk_inbox"),
    )


def drop_event_tables() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")


def create_event_retention_indexes() -> None:
    """Indexes the retention job prunes by: published outbox rows by publication time, inbox rows by when they were
    applied (`servicekit.retention`). Called from one migration of every service."""
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"],
                    postgresql_where=sa.text("published_at IS NOT NULL"))
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def drop_event_retention_indexes() -> None:
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_index("ix_outbox_published_at", table_name="outbox")


def add_outbox_parking() -> None:
    """`outbox.parked_at`: set by the relay on a row the broker refuses for good (too large, invalid topic), which
    it then leaves aside so the rest of the outbox flows (`servicekit.events.relay`). Called from one migration of
    every service."""
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_parked", "outbox", ["seq"], postgresql_where=sa.text("parked_at IS NOT NULL"))


def drop_outbox_parking() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox")
    op.drop_column("outbox", "parked_at")


def seal_columns(columns: SealedColumns, cipher: PiiCipher, *, json_columns: frozenset[tuple[str, str]] = frozenset(),
                 ) -> None:
    """Replace each `<field>` column by `<field>_enc`, AES-GCM bound to "<table>:<id>:<field>" (the services'
    convention), encrypting the rows already there; a column in `json_columns` is sealed as its JSON text.

    Used by the migrations that move free text out of the clear; `open_columns` is their downgrade."""
    bind = op.get_bind()
    for table, fields in columns.items():
        for field, required in fields:
            op.add_column(table, sa.Column(f"{field}_enc", sa.LargeBinary(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field} FROM {table} WHERE {field} IS NOT NULL")).all()
            for row_id, value in rows:
                plain = json.dumps(value, ensure_ascii=False) if (table, field) in json_columns else value
                bind.execute(sa.text(f"UPDATE {table} SET {field}_enc = :sealed WHERE id = :id"),
                             {"sealed": cipher.encrypt(plain, context=f"{table}:{row_id}:{field}"), "id": row_id})
            if required:
                op.alter_column(table, f"{field}_enc", nullable=False)
            op.drop_column(table, field)


def open_columns(columns: SealedColumns, cipher: PiiCipher, *, json_columns: frozenset[tuple[str, str]] = frozenset(),
                 ) -> None:
    """The reverse of `seal_columns`: each `<field>_enc` back to its `<field>` (text, or jsonb for `json_columns`)."""
    bind = op.get_bind()
    for table, fields in columns.items():
        for field, required in fields:
            is_json = (table, field) in json_columns
            op.add_column(table, sa.Column(field, postgresql.JSONB() if is_json else sa.Text(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field}_enc FROM {table} WHERE {field}_enc IS NOT NULL")).all()
            target = "CAST(:value AS jsonb)" if is_json else ":value"
            for row_id, sealed in rows:
                bind.execute(sa.text(f"UPDATE {table} SET {field} = {target} WHERE id = :id"),
                             {"value": cipher.decrypt(sealed, context=f"{table}:{row_id}:{field}"), "id": row_id})
            if required:
                op.alter_column(table, field, nullable=False)
            op.drop_column(table, f"{field}_enc")
