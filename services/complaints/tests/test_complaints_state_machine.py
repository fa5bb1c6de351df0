"""The transition table: every allowed move is made with a timeline row and an event in one transaction; every other
move is a 409 that writes nothing (status, version, timeline and outbox unchanged)."""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest
from complaints_support import PII_KEY, Area, Consumer, Count, file_case
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint.enums import ActorRole, CaseStatus, ComplaintStatus, ReportStatus
from complaints.complaint.state import TRANSITIONS, Actor, ensure_allowed, lock, opened_timeline, transition
from complaints.database import outbox
from complaints.publisher import Publisher
from servicekit.contracts.complaints_v1 import ReportStatusChanged
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

STATUSES: list[CaseStatus] = [*ComplaintStatus, *ReportStatus]
PAIRS = list(itertools.product(STATUSES, STATUSES))
ALLOWED = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}
PUBLISHER = Publisher(outbox=Outbox(outbox, "complaints"), source="complaints", cipher=PiiCipher(PII_KEY))
ACTOR = Actor(ActorRole.REGULATOR, "reg-test")


def test_the_table_covers_every_status_and_keeps_the_tracks_apart() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for current, target in ALLOWED:
        assert isinstance(current, ComplaintStatus) == isinstance(target, ComplaintStatus)
    s, w, p, a = (ComplaintStatus.SUBMITTED, ComplaintStatus.WITH_MERCHANT, ComplaintStatus.PENDING_ACCEPTANCE,
                  ComplaintStatus.ACCEPTED)
    settled, terminated, refused, withdrawn = (ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.CLOSED_TERMINATED,
                                               ComplaintStatus.CLOSED_REFUSED, ComplaintStatus.WITHDRAWN)
    received, verifying, opened, not_opened = ReportStatus
    documented = {
        (s, w), (s, p), (s, settled), (s, withdrawn),
        (w, p), (w, settled), (w, withdrawn),
        (p, a), (p, refused), (p, w), (p, withdrawn), (p, p), (p, settled),
        (a, settled), (a, terminated), (a, withdrawn),
        (received, verifying), (received, opened), (received, not_opened),
        (verifying, opened), (verifying, not_opened),
    }
    assert documented == ALLOWED


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_ensure_allowed_follows_the_table(current: CaseStatus, target: CaseStatus) -> None:
    if (current, target) in ALLOWED:
        assert ensure_allowed(current, target) is target
    else:
        with pytest.raises(Problem) as refused:
            ensure_allowed(current, target)
        assert refused.value.status == 409


def _event(row: RowMapping) -> list[EventEnvelope]:
    return [ReportStatusChanged(complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
                                merchant_id=row["merchant_id"], status=row["status"], case_opened=None,
                                changed_at=row["updated_at"]).envelope(source="complaints")]


async def _case_in(client: httpx.AsyncClient, consumer: Consumer, engine: AsyncEngine, region: str,
                   status: CaseStatus) -> uuid.UUID:
    _, auth = consumer()
    kind = "complaint" if isinstance(status, ComplaintStatus) else "report"
    case_id = uuid.UUID((await file_case(client, auth, region, kind=kind))["id"])
    async with engine.begin() as connection:  # test set-up: put the case straight into the status under test
        await connection.execute(text("UPDATE complaint SET status = :status WHERE id = :id"),
                                 {"status": status.value, "id": case_id})
    return case_id


async def _snapshot(engine: AsyncEngine, count: Count, case_id: uuid.UUID) -> tuple[str, int, int, int]:
    async with engine.connect() as connection:
        status, version = (await connection.execute(
            text("SELECT status, version FROM complaint WHERE id = :id"), {"id": case_id})).one()
    return (status, version, await count("complaint_event", "complaint_id = :id", id=case_id),
            await count("outbox", "aggregate_id = :id", id=str(case_id)))


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
async def test_every_move_on_a_stored_case(
    client: httpx.AsyncClient, consumer: Consumer, engine: AsyncEngine, count: Count,
    sessionmaker: async_sessionmaker[AsyncSession], area: Area, current: CaseStatus, target: CaseStatus,
) -> None:
    case_id = await _case_in(client, consumer, engine, area.first, current)
    status, version, timeline, events = await _snapshot(engine, count, case_id)
    assert status == current.value

    async def move() -> None:
        async with sessionmaker() as session, session.begin():
            case = await lock(session, case_id)
            assert case is not None
            await transition(session, case=case, target=target, actor=ACTOR, at=utcnow(), publisher=PUBLISHER,
                             events=_event, code="accepted", note="moved by the test")

    if (current, target) in ALLOWED:
        await move()
        assert await _snapshot(engine, count, case_id) == (target.value, version + 1, timeline + 1, events + 1)
        async with engine.connect() as connection:
            entry = (await connection.execute(text(
                "SELECT id, status, actor_role, actor_id, note_enc, written_enc, details FROM complaint_event "
                "WHERE complaint_id = :id ORDER BY at DESC, id DESC LIMIT 1"), {"id": case_id})).mappings().one()
            event_type = (await connection.execute(text(
                "SELECT event_type FROM outbox WHERE aggregate_id = :id ORDER BY seq DESC LIMIT 1"),
                {"id": str(case_id)})).scalar_one()
        note, _ = opened_timeline(entry, PUBLISHER.cipher)
        assert (entry["status"], entry["actor_role"], entry["actor_id"], note) == (
            target.value, "regulator", "reg-test", "moved by the test")
        assert event_type == ReportStatusChanged.event_type
    else:
        with pytest.raises(Problem) as refused:
            await move()
        assert refused.value.status == 409
        assert refused.value.extensions["current_status"] == current.value
        assert await _snapshot(engine, count, case_id) == (status, version, timeline, events)
