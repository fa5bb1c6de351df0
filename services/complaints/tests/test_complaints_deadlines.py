"""Clocks: the breach sweeper (injected now, SKIP LOCKED, exactly once), its background job, and the report clock's
pause, resume and extension."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from complaints_support import PII_KEY, Area, Consumer, bearer, file_case
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint.enums import ActorRole
from complaints.complaint.jobs import BreachSweeper
from complaints.complaint.service import sweep_breaches
from complaints.complaint.state import Actor
from complaints.database import outbox
from complaints.deadline.service import working_days_between
from complaints.publisher import Publisher
from complaints.report import service as report_service
from servicekit.calendar import add_working_days, end_of_day, is_working_day, local_date
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.testing.plugin import Tokens

CONSUMER = "/v1/consumer/complaints"
PUBLISHER = Publisher(outbox=Outbox(outbox, "complaints"), source="complaints", cipher=PiiCipher(PII_KEY))
STAFF = Actor(ActorRole.REGULATOR, "reg-test")


def after_due(case: dict[str, Any], index: int = 0) -> datetime:
    """One second after the case's clock ran out."""
    return end_of_day(datetime.fromisoformat(case["deadlines"][index]["due_date"]).date()) + timedelta(seconds=1)


async def breach_events(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id "
            "AND event_type = 'complaints.complaint.deadline_breached.v1'"), {"id": case_id})
        return [row.payload for row in rows]


def test_working_days_between_counts_the_days_a_clock_stood_still() -> None:
    # 2026-09-30 (Wed) to 2026-10-09 (Fri): National Day runs 1-7 Oct, so only 8 and 9 Oct are worked.
    assert working_days_between(datetime(2026, 9, 30).date(), datetime(2026, 10, 9).date()) == 2
    assert working_days_between(datetime(2026, 12, 1).date(), datetime(2026, 12, 1).date()) == 0
    assert working_days_between(datetime(2026, 12, 4).date(), datetime(2026, 12, 7).date()) == 1



def breach_samples() -> float:
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "odr_deadline_breaches"
               for sample in metric.samples if sample.name == "odr_deadline_breaches_total")

async def test_the_sweeper_breaches_a_clock_that_ran_out_exactly_once(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    region = area.first
    _, auth = consumer()
    case = await file_case(client, auth, region)
    etag = (await client.get(f"{CONSUMER}/{case['id']}", headers=auth)).headers["etag"]

    await sweep_breaches(sessionmaker, now=after_due(case) - timedelta(seconds=2), publisher=PUBLISHER)
    assert (await client.get(f"{CONSUMER}/{case['id']}", headers=auth)).json()["deadlines"][0]["state"] == "running"

    counted_before = breach_samples()
    breached = await sweep_breaches(sessionmaker, now=after_due(case), publisher=PUBLISHER)
    breached += await sweep_breaches(sessionmaker, now=after_due(case) + timedelta(days=3), publisher=PUBLISHER)
    # The alerting metric counts exactly the committed breaches (this case's, and any other due clock in the database).
    assert breached >= 1
    assert breach_samples() - counted_before == breached

    response = await client.get(f"{CONSUMER}/{case['id']}", headers={**auth, "If-None-Match": etag})
    assert response.status_code == 200
    assert [(d["kind"], d["state"]) for d in response.json()["deadlines"]] == [("initial_review", "breached")]
    [event] = await breach_events(engine, case["id"])
    assert (event["kind"], event["due_date"], event["region_code"]) == (
        "initial_review", case["deadlines"][0]["due_date"], region)


async def test_a_locked_case_is_skipped_and_breached_on_the_next_sweep(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, auth = consumer()
    locked = await file_case(client, auth, area.first)
    free = await file_case(client, auth, area.first)
    now = after_due(locked) + timedelta(days=1)

    async with engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(text("SELECT 1 FROM complaint WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(locked["id"])})
        await asyncio.wait_for(sweep_breaches(sessionmaker, now=now, publisher=PUBLISHER), 30)
        await transaction.rollback()
    assert await breach_events(engine, locked["id"]) == []
    assert len(await breach_events(engine, free["id"])) == 1

    await sweep_breaches(sessionmaker, now=now, publisher=PUBLISHER)
    assert len(await breach_events(engine, locked["id"])) == 1
    assert len(await breach_events(engine, free["id"])) == 1


async def test_a_met_clock_is_never_breached(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    region = area.first
    _, auth = consumer()
    case = await file_case(client, auth, region)
    await client.post(f"/v1/regulator/complaints/{case['id']}/accept", headers=bearer(tokens.regulator(region=region)))

    await sweep_breaches(sessionmaker, now=after_due(case) + timedelta(days=30), publisher=PUBLISHER)

    assert (await client.get(f"{CONSUMER}/{case['id']}", headers=auth)).json()["deadlines"][0]["state"] == "met"
    assert await breach_events(engine, case["id"]) == []


async def test_the_background_job_sweeps_by_its_injected_clock(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, auth = consumer()
    case = await file_case(client, auth, area.first)
    sweeps = 0

    def clock() -> datetime:
        nonlocal sweeps  # the job reads its clock once per sweep
        sweeps += 1
        return after_due(case)

    sweeper = BreachSweeper(sessionmaker=sessionmaker, publisher=PUBLISHER, interval=0.05, clock=clock)

    job = asyncio.create_task(sweeper.run())
    try:
        for _ in range(600):
            if await breach_events(engine, case["id"]):
                break
            await asyncio.sleep(0.05)
        breached_by = sweeps
        for _ in range(600):  # three more sweeps after the one that breached it
            if sweeps >= breached_by + 3:
                break
            await asyncio.sleep(0.05)
        assert sweeps >= breached_by + 3
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)

    assert len(await breach_events(engine, case["id"])) == 1


async def test_a_paused_report_clock_does_not_run_out_and_resumes_later(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, auth = consumer()
    report = await file_case(client, auth, area.first, kind="report")
    filed_at = datetime.fromisoformat(report["filed_at"])
    original_due = datetime.fromisoformat(report["deadlines"][0]["due_date"]).date()
    resumed_at = filed_at + timedelta(days=7)

    async with sessionmaker() as session:
        await report_service.pause_clock(session, case_id=uuid.UUID(report["id"]), actor=STAFF, reason="送检鉴定",
                                         at=filed_at, publisher=PUBLISHER)
    with pytest.raises(Problem) as twice:
        async with sessionmaker() as session:
            await report_service.pause_clock(session, case_id=uuid.UUID(report["id"]), actor=STAFF, reason="x",
                                             at=filed_at, publisher=PUBLISHER)
    assert twice.value.status == 409
    await sweep_breaches(sessionmaker, now=after_due(report) + timedelta(days=60), publisher=PUBLISHER)
    paused = (await client.get(f"{CONSUMER}/{report['id']}", headers=auth)).json()
    assert paused["deadlines"][0]["state"] == "paused"
    assert await breach_events(engine, report["id"]) == []

    async with sessionmaker() as session:
        due = await report_service.resume_clock(session, case_id=uuid.UUID(report["id"]), actor=STAFF,
                                                at=resumed_at, publisher=PUBLISHER)

    stood_still = sum(is_working_day(local_date(filed_at) + timedelta(days=n)) for n in range(1, 8))
    assert due == add_working_days(original_due, stood_still)
    resumed = (await client.get(f"{CONSUMER}/{report['id']}", headers=auth)).json()
    assert [(d["state"], d["due_date"]) for d in resumed["deadlines"]] == [("running", due.isoformat())]
    assert [entry["note"].split(":")[0].split(";")[0] for entry in resumed["timeline"][-2:]] == [
        "Verification clock paused", "Verification clock resumed"]
    with pytest.raises(Problem) as not_paused:
        async with sessionmaker() as session:
            await report_service.resume_clock(session, case_id=uuid.UUID(report["id"]), actor=STAFF,
                                              at=resumed_at, publisher=PUBLISHER)
    assert not_paused.value.status == 409
