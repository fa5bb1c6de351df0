"""The negotiation deadline sweeper, driven by an injected `now` (never by sleeping)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from mediation_testkit import ApplyEvent, bearer, open_case, outbox_events
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.negotiation.service import expire_negotiations
from servicekit.events.outbox import Outbox
from servicekit.testing.plugin import Tokens

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Earlier than every other test's due date (2030), so sweeping at these instants touches only this module's cases.
DUE = date(2029, 1, 10)


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


async def status_of(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> tuple[str, str | None]:
    async with sessionmaker() as session:
        row = (await session.execute(text("SELECT status, failure_reason FROM mediation_case WHERE id = :id"),
                                     {"id": uuid.UUID(case_id)})).one()
    return row.status, row.failure_reason


async def test_negotiation_fails_the_day_after_its_last_day_once(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, due_date=DUE)
    offer = await client.post(f"/v1/merchant/cases/{case_id}/offers", json={"type": "apology"},
                              headers=bearer(tokens.merchant(merchant_id)))
    assert offer.status_code == 201

    # Other tests share this database and leave earlier-due cases, so the assertions look at this case only.
    await expire_negotiations(sessionmaker, outbox=outbox, now=local(DUE, time(23, 59)))
    assert await status_of(sessionmaker, case_id) == ("negotiating", None)

    the_day_after = local(date(2029, 1, 11), time(0, 0, 1))
    assert await expire_negotiations(sessionmaker, outbox=outbox, now=the_day_after) >= 1
    assert await status_of(sessionmaker, case_id) == ("failed", "deadline_passed")
    # Idempotent: a second pass (another replica, a restart) changes nothing: still one failure event below.
    await expire_negotiations(sessionmaker, outbox=outbox, now=the_day_after)

    failed = [payload for event, payload in await outbox_events(sessionmaker, case_id)
              if event == "mediation.case.negotiation_failed.v1"]
    assert len(failed) == 1
    assert failed[0]["reason"] == "deadline_passed"
    detail = (await client.get(f"/v1/merchant/cases/{case_id}", headers=bearer(tokens.merchant(merchant_id)))).json()
    assert detail["offers"][0]["status"] == "lapsed"
    assert detail["deadlines"][0]["state"] == "ended"
    async with sessionmaker() as session:
        audit = (await session.execute(text("SELECT kind, actor_role, details FROM case_event WHERE case_id = :id "
                                            "ORDER BY at DESC LIMIT 1"), {"id": uuid.UUID(case_id)})).one()
    assert (audit.kind, audit.actor_role, audit.details["reason"]) == ("negotiation_failed", "system",
                                                                        "deadline_passed")


async def test_a_case_locked_by_a_use_case_is_skipped_not_waited_for(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox
) -> None:
    due = date(2029, 2, 1)
    case_id = await open_case(apply_event, sessionmaker, merchant_id=uuid.uuid4(), due_date=due)
    now = local(date(2029, 2, 2), time(9))
    # Sweep what other tests of this database left due first, so the counts below are this case's alone.
    await expire_negotiations(sessionmaker, outbox=outbox, now=now - timedelta(days=1))
    async with sessionmaker() as holder, holder.begin():
        await holder.execute(text("SELECT id FROM mediation_case WHERE id = :id FOR UPDATE"),
                             {"id": uuid.UUID(case_id)})
        assert await expire_negotiations(sessionmaker, outbox=outbox, now=now) == 0
    assert await expire_negotiations(sessionmaker, outbox=outbox, now=now) == 1
    assert await status_of(sessionmaker, case_id) == ("failed", "deadline_passed")
