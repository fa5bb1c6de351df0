"""The text-message dispatcher and the scan for negotiation periods about to end."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.notifications import service as notifications
from complaints.settings import ComplaintsSettings, SmsBackend
from servicekit.db import utcnow
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher

log = get_logger("complaints.notifications")


class SmsDispatcher:
    """Sends due messages in batches; any number of replicas may run it (SKIP LOCKED)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cipher: PiiCipher,
                 settings: ComplaintsSettings) -> None:
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.settings = settings

    async def run(self) -> None:
        if self.settings.sms_sender == SmsBackend.DEV and not self.settings.is_dev:
            log.warning("ODR_SMS_SENDER is dev outside development: no text message reaches anyone, so consumers "
                        "cannot sign in; set ODR_SMS_SENDER=aliyun and its ODR_SMS_ALIYUN_* settings")
        backoff = notifications.Backoff.of(self.settings)
        async with httpx.AsyncClient(timeout=self.settings.sms_timeout_seconds) as client:
            sender = notifications.sender_from_settings(self.settings, client)
            while True:
                async with self.sessionmaker() as session:
                    handled = await notifications.dispatch_due(session, self.cipher, sender, backoff=backoff)
                if not handled:
                    await asyncio.sleep(self.settings.sms_poll_interval)


class DeadlineNotices:
    """Queues the complainant's message when the enterprise's negotiation period is about to end."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cipher: PiiCipher,
                 settings: ComplaintsSettings) -> None:
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.settings = settings

    async def run(self) -> None:
        while True:
            async with self.sessionmaker() as session:
                await notifications.queue_deadline_notices(session, self.cipher, now=utcnow(),
                                                           days_before=self.settings.sms_deadline_notice_days)
            await asyncio.sleep(self.settings.sms_deadline_scan_interval)
