"""How many times a filing waits for PostgreSQL: each round trip costs the service's event loop and a database
backend a wake-up, and at intake rates they were most of the service's CPU (bench/README.md, issue 18)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from complaints_support import PII_KEY, Area, Seed, complaint_body, unregistered
from round_trips import RoundTrips
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.complaint import service as complaint_service
from complaints.complaint.schemas import ComplaintCreate
from complaints.database import outbox
from complaints.deadline.service import NegotiationPeriods
from complaints.notifications.service import NotifyingOutbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.db import create_engine, create_sessionmaker
from servicekit.notify import notifications_sent
from servicekit.pii import PiiCipher

CIPHER = PiiCipher(PII_KEY)
PUBLISHER = Publisher(outbox=NotifyingOutbox(outbox, "complaints", CIPHER), source="complaints", cipher=CIPHER)


@pytest.fixture
async def counted(settings: ComplaintsSettings) -> AsyncIterator[tuple[RoundTrips, async_sessionmaker[AsyncSession]]]:
    """Sessions whose one connection goes through a counting proxy."""
    url = make_url(settings.sqlalchemy_url)
    proxy = RoundTrips(url.host or "127.0.0.1", url.port or 5432)
    async with proxy.running():
        proxied = settings.model_copy(update={
            "database_url": url.set(host="127.0.0.1", port=proxy.listening_port).render_as_string(False)})
        engine = create_engine(proxied, pool_size=1)
        try:
            yield proxy, create_sessionmaker(engine)
        finally:
            await engine.dispose()


async def _file(sessionmaker: async_sessionmaker[AsyncSession], body: dict[str, Any], key: str | None = None,
                consumer_id: str | None = None) -> dict[str, Any]:
    filing = complaint_service.Filing(
        consumer_id=consumer_id or f"consumer-{uuid.uuid4().hex[:12]}", body=ComplaintCreate.model_validate(body),
        idempotency_key=key, cipher=CIPHER, publisher=PUBLISHER,
        negotiation_periods=NegotiationPeriods({"": 10}))
    async with sessionmaker() as session:
        stored = await complaint_service.file_complaint(session, filing)
    return stored.body


async def _trips_of(proxy: RoundTrips, sessionmaker: async_sessionmaker[AsyncSession], body: dict[str, Any],
                    key: str | None = None) -> int:
    """Round trips of a filing and of the relay's wake-up sent after it, once the connections are open and their
    statements are prepared."""
    for warming in ("first", "second"):
        await _file(sessionmaker, body, key and f"{key}-{warming}")
        await notifications_sent()
    proxy.reset()
    await _file(sessionmaker, body, key and f"{key}-counted")
    await notifications_sent()
    return proxy.reset()


@pytest.mark.parametrize("kind", ["to_enterprise", "to_regulator", "both"])
@pytest.mark.parametrize("with_key", [True, False])
async def test_a_filing_reads_once_and_writes_once(counted: tuple[RoundTrips, async_sessionmaker[AsyncSession]],
                                                   area: Area, enrolled_merchant: Seed, kind: str,
                                                   with_key: bool) -> None:
    """The enterprise and a stored answer in one read, then one statement that is its own transaction (it was 6 to
    10 round trips: BEGIN, a statement per table, COMMIT); with neither an enterprise nor a key to look up, only the
    statement. The relay's wake-up is one more, after the commit, which the filing does not wait for."""
    proxy, sessionmaker = counted
    bodies = {
        "to_enterprise": complaint_body(respondent={"merchant_id": str(await enrolled_merchant(area.first))}),
        "to_regulator": complaint_body(green_channel=False, respondent=unregistered(area.second)),
        "both": complaint_body(kind="both", green_channel=False, respondent=unregistered(area.second)),
    }
    reads = 1 if with_key or kind == "to_enterprise" else 0
    assert await _trips_of(proxy, sessionmaker, bodies[kind], str(uuid.uuid4()) if with_key else None) == reads + 2


async def test_a_replay_reads_once(counted: tuple[RoundTrips, async_sessionmaker[AsyncSession]], area: Area) -> None:
    proxy, sessionmaker = counted
    body, key = complaint_body(green_channel=False, respondent=unregistered(area.second)), str(uuid.uuid4())
    first = await _file(sessionmaker, body, key, consumer_id="consumer-replayed")
    await notifications_sent()
    proxy.reset()
    assert await _file(sessionmaker, body, key, consumer_id="consumer-replayed") == first
    await notifications_sent()
    assert proxy.reset() == 1


async def test_the_next_use_case_on_the_connection_has_a_transaction_again(
        counted: tuple[RoundTrips, async_sessionmaker[AsyncSession]], area: Area) -> None:
    """A filing runs its statement outside a transaction block; the pool's connection must not stay that way."""
    _, sessionmaker = counted
    await _file(sessionmaker, complaint_body(green_channel=False, respondent=unregistered(area.second)))
    async with sessionmaker() as session, session.begin():
        first = (await session.execute(text("SELECT txid_current()"))).scalar_one()
        second = (await session.execute(text("SELECT txid_current()"))).scalar_one()
    assert first == second
