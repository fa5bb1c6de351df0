"""Database plumbing: engine and session factories, declarative base, time and id helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import uuid6
from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from servicekit.settings import ServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the shared constraint naming convention (one per service)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class TimezoneAware:
    """Mixin for a service's declarative base: a `Mapped[datetime]` column is TIMESTAMP WITH TIME ZONE.

    A mixin rather than a shared base class: each direct DeclarativeBase subclass gets a registry of its own, so the
    services' mapped class names never meet in one registry when their tests share a process.
    """

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """UUIDv7: time-ordered, so primary-key indexes stay append-mostly."""
    # A plain uuid.UUID (what asyncpg and orjson take as is), made from the integer without a round trip via bytes.
    return uuid.UUID(int=uuid6.uuid7().int)


def create_engine(settings: ServiceSettings, *, pool_size: int | None = None,
                  long_statements: bool = False) -> AsyncEngine:
    """The service's engine. Statements are bounded by `database_statement_timeout` (a request must answer before the
    gateway gives up); an operator's batch command (a statistics rebuild, a chain verification) asks for
    `long_statements` instead."""
    statement_limits: dict[str, Any] = {} if long_statements else {
        # The client-side limit catches a server that stopped answering altogether (frozen, partitioned).
        "command_timeout": settings.database_statement_timeout + 1}
    server_settings = {"application_name": settings.service_name, "timezone": "UTC"}
    if not long_statements:
        server_settings["statement_timeout"] = str(int(settings.database_statement_timeout * 1000))
    return create_async_engine(
        settings.sqlalchemy_url,
        # As many connections as before (the pool plus as many again, the budget deploy/README.md counts), but all
        # kept once opened: an overflow connection was closed on its return, so every burst opened new ones (a TLS
        # handshake and authentication each, on both sides) just when the process was busiest.
        pool_size=(pool_size or settings.database_pool_size) + settings.database_pool_size,
        max_overflow=0,
        # The most recently returned connection first: a process at a modest rate keeps using the few connections
        # whose prepared statements and server-side caches are warm, instead of cycling through all of them.
        pool_use_lifo=True,
        # No ping before each use: asyncpg's costs three round trips (BEGIN, an empty query, ROLLBACK) on every
        # checkout, more than many use cases' own statements. The pool still heals by itself after a database
        # restart: the first statement on a dead connection fails as unavailability (503 with Retry-After) and
        # SQLAlchemy then discards every connection the pool opened before it.
        pool_pre_ping=False,
        pool_timeout=settings.database_connect_timeout,
        # A failed statement's error (and so a logged traceback) names no bound values: they can be personal data.
        hide_parameters=True,
        connect_args={"timeout": settings.database_connect_timeout, **statement_limits,
                      "server_settings": server_settings},
    )


async def autocommit_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection in autocommit, for a use case whose statements each stand alone (a lone read, a write
    that is one statement): PostgreSQL runs such a statement in a transaction of its own anyway, and the BEGIN and
    the COMMIT or ROLLBACK a session sends around it are two more round trips. Call it before the session has run
    anything; the pool takes the connection back out of autocommit."""
    return await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(sqlalchemy_url: str, database: str | None = None) -> str:
    """The plain libpq URL asyncpg.connect takes, from a SQLAlchemy URL; on another database of the server if named."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)
