"""Request-scoped dependencies shared by the routers: a database session and the PII cipher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.app import ServiceRuntime, get_runtime
from servicekit.pii import PiiCipher

PII_CIPHER = "pii_cipher"


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessionmaker() as session:
        yield session


def _cipher(request: Request) -> PiiCipher:
    cipher: PiiCipher = get_runtime(request).extras[PII_CIPHER]
    return cipher


DbSession = Annotated[AsyncSession, Depends(_session)]
Cipher = Annotated[PiiCipher, Depends(_cipher)]
Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
