"""Request-scoped dependencies shared by the mediation routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from servicekit.app import get_runtime
from servicekit.pii import PiiCipher
from sqlalchemy.ext.asyncio import AsyncSession

PII_CIPHER = "pii_cipher"


async def _db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessionmaker() as session:
        yield session


def _pii_cipher(request: Request) -> PiiCipher:
    cipher: PiiCipher = get_runtime(request).extras[PII_CIPHER]
    return cipher


DbSession = Annotated[AsyncSession, Depends(_db_session)]
Cipher = Annotated[PiiCipher, Depends(_pii_cipher)]
