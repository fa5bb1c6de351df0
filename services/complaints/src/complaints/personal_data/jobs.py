"""The erasure job: closed cases past their retention period lose their personal data without anyone asking."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.personal_data.service import erase_expired
from complaints.publisher import Publisher
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.uploads import FileStore

log = get_logger("complaints.personal_data")


class PersonalDataEraser:
    """Runs `erase_expired` every `interval` seconds until cancelled."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, publisher: Publisher, cipher: PiiCipher,
                 store: FileStore, retention: timedelta, interval: float) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher
        self.cipher = cipher
        self.store = store
        self.retention = retention
        self.interval = interval

    async def run(self) -> None:
        """Erase, sleep, repeat; a database failure propagates so the supervisor restarts the job."""
        while True:
            erased = await erase_expired(self.sessionmaker, publisher=self.publisher, cipher=self.cipher,
                                         store=self.store, retention=self.retention)
            if erased:
                log.info("personal data erased", cases=erased, retention_days=self.retention.days)
            await asyncio.sleep(self.interval)
