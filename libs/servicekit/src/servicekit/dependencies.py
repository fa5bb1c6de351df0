"""Request-scoped dependencies every service's routers use: a database session and the service's runtime.

They are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per dependency per
request for what is only an attribute lookup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.app import ServiceRuntime, get_runtime


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed after the response; the use case owns the transaction."""
    async with get_runtime(request).sessionmaker() as session:
        yield session


async def runtime(request: Request) -> ServiceRuntime:
    """What the service built in its lifespan: settings, engine, sessionmaker, outbox, extras."""
    return get_runtime(request)


DbSession = Annotated[AsyncSession, Depends(db_session)]
Runtime = Annotated[ServiceRuntime, Depends(runtime)]
