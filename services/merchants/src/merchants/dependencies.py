"""Request-scoped dependencies shared by the merchants routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from servicekit.app import get_runtime
from sqlalchemy.ext.asyncio import AsyncSession


async def _db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessionmaker() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_db_session)]
