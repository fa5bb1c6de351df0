"""What a filing makes PostgreSQL do besides writing its rows: its triggers and its checks (issue 18,
migrations 0022 and 0023, docs/design-notes.md "What a filing costs PostgreSQL")."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from complaints_support import PII_KEY, Area, complaint_body, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint import service as complaint_service
from complaints.complaint.schemas import ComplaintCreate
from complaints.database import outbox
from complaints.deadline.service import NegotiationPeriods
from complaints.notifications.service import NotifyingOutbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.db import create_engine, create_sessionmaker
from servicekit.pii import PiiCipher

CIPHER = PiiCipher(PII_KEY)
PUBLISHER = Publisher(outbox=NotifyingOutbox(outbox, "complaints", CIPHER), source="complaints", cipher=CIPHER)


@pytest.fixture
async def counting_calls(settings: ComplaintsSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on one connection whose backend counts the calls of every function."""
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET SESSION track_functions = 'all'"))
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _calls(sessionmaker: async_sessionmaker[AsyncSession], function: str) -> int:
    async with sessionmaker() as session:
        # The backend's counts reach the statistics views when it next goes idle.
        await session.execute(text("SELECT pg_stat_force_next_flush()"))
        await session.commit()
        calls = (await session.execute(text(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = :function"),
            {"function": function})).scalar_one()
        await session.commit()
    return int(calls)


async def _file(sessionmaker: async_sessionmaker[AsyncSession], area: Area) -> None:
    filing = complaint_service.Filing(
        consumer_id=f"consumer-{uuid.uuid4().hex[:12]}",
        body=ComplaintCreate.model_validate(complaint_body(green_channel=False, respondent=unregistered(area.first))),
        idempotency_key=None, cipher=CIPHER, publisher=PUBLISHER, negotiation_periods=NegotiationPeriods({"": 10}))
    async with sessionmaker() as session:
        await complaint_service.file_complaint(session, filing)


async def test_a_filing_computes_its_cases_queue_due_instant_once(
        counting_calls: async_sessionmaker[AsyncSession], area: Area) -> None:
    """The filing's statement writes the case before its clock, so the case's queue trigger finds no clock and keeps
    the instant the filing computed; only the clock's trigger computes it, to check it (it was computed twice, the
    clock being written first)."""
    await _file(counting_calls, area)
    before = await _calls(counting_calls, "complaint_queue_due")
    await _file(counting_calls, area)
    assert await _calls(counting_calls, "complaint_queue_due") - before == 1


async def test_no_value_check_is_stored_as_an_array_built_per_value(engine: AsyncEngine) -> None:
    """PostgreSQL reads and plans a table's CHECK expressions in every statement that writes it: a value list is kept
    as one array constant (`one_of`, migration 0023), not as `IN (...)`, which it stores as an array of constants."""
    async with engine.connect() as connection:
        built = (await connection.execute(text(
            "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0 "
            "AND pg_get_constraintdef(oid) LIKE '%ARRAY[%' ORDER BY conname"))).scalars().all()
    assert built == []
