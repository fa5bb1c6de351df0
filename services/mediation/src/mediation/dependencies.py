"""Request-scoped dependencies of the mediation routers (the session: servicekit.dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.live import CaseFeed
from mediation.settings import MediationSettings
from servicekit.app import get_runtime
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.uploads import LocalDiskStore

PII_CIPHER = "pii_cipher"
CASE_FEED = "case_feed"
ATTACHMENT_STORE = "attachment_store"


async def _pii_cipher(request: Request) -> PiiCipher:
    cipher: PiiCipher = get_runtime(request).extras[PII_CIPHER]
    return cipher


Cipher = Annotated[PiiCipher, Depends(_pii_cipher)]


async def _outbox(request: Request) -> Outbox:
    return get_runtime(request).outbox


async def _settings(request: Request) -> MediationSettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, MediationSettings)
    return settings


OutboxDep = Annotated[Outbox, Depends(_outbox)]
SettingsDep = Annotated[MediationSettings, Depends(_settings)]


async def _feed(request: Request) -> CaseFeed:
    feed: CaseFeed = get_runtime(request).extras[CASE_FEED]
    return feed


async def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return get_runtime(request).sessionmaker


Feed = Annotated[CaseFeed, Depends(_feed)]
Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker)]


async def _attachment_store(request: Request) -> LocalDiskStore:
    store: LocalDiskStore = get_runtime(request).extras[ATTACHMENT_STORE]
    return store


AttachmentStore = Annotated[LocalDiskStore, Depends(_attachment_store)]
