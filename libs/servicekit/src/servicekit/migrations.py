"""Alembic glue shared by the services: each service's env.py calls `run_migrations`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.settings import ServiceSettings


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


def _apply(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
