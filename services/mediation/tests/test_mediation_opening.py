"""complaints.complaint.routed.v1 -> a negotiation case, once, with its audit row and mediation.case.opened.v1."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from mediation_testkit import DUE_DATE, ApplyEvent, routed_event
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.cases.state import TRANSITIONS, CaseStatus, DeadlineState, negotiation_deadline_state, transition
from servicekit.contracts.complaints_v1 import RouteTarget
from servicekit.problems import Problem


async def test_routed_event_opens_exactly_one_case_even_when_applied_twice(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id = uuid.uuid4()
    event = routed_event(merchant_id=merchant_id, consumer_id="consumer-twice")
    await apply_event(event)
    await apply_event(event)
    complaint_id = event.data["complaint_id"]
    async with sessionmaker() as session:
        cases = (await session.execute(text(
            "SELECT id, status, merchant_id, consumer_id, due_date, case_no, complainant_name FROM mediation_case "
            "WHERE complaint_id = :id"), {"id": complaint_id})).all()
        assert len(cases) == 1
        case = cases[0]
        audit = (await session.execute(text("SELECT kind, actor_role, details FROM case_event WHERE case_id = :id"),
                                       {"id": case.id})).all()
        opened = (await session.execute(text(
            "SELECT topic, aggregate_id, event_type, payload, headers FROM outbox WHERE aggregate_id = :id"),
            {"id": str(case.id)})).all()
    assert (case.status, case.merchant_id, case.consumer_id) == ("negotiating", merchant_id, "consumer-twice")
    assert case.due_date == DUE_DATE
    assert case.case_no == event.data["case_no"]
    assert "王芳".encode() not in case.complainant_name  # encrypted at rest
    assert [(row.kind, row.actor_role) for row in audit] == [("opened", "system")]
    assert audit[0].details["cause"] == str(event.id)
    assert len(opened) == 1
    assert (opened[0].topic, opened[0].event_type) == ("mediation.case", "mediation.case.opened.v1")
    assert opened[0].payload == {
        "case_id": str(case.id), "complaint_id": complaint_id, "merchant_id": str(merchant_id),
        "region_code": "632801", "status": "negotiating", "due_date": DUE_DATE.isoformat(),
        "opened_at": opened[0].payload["opened_at"],
    }
    assert opened[0].headers["ce_causationid"] == str(event.id)
    assert opened[0].headers["ce_correlationid"] == event.correlationid


async def test_complaints_routed_to_the_regulator_open_nothing(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    event = routed_event(merchant_id=uuid.uuid4(), target=RouteTarget.REGULATOR)
    await apply_event(event)
    async with sessionmaker() as session:
        count = await session.scalar(text("SELECT count(*) FROM mediation_case WHERE complaint_id = :id"),
                                     {"id": event.data["complaint_id"]})
    assert count == 0


async def test_the_audit_trail_refuses_updates_and_deletes(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    event = routed_event(merchant_id=uuid.uuid4())
    await apply_event(event)
    for statement in ("UPDATE case_event SET kind = 'forged' WHERE details->>'cause' = :cause",
                      "DELETE FROM case_event WHERE details->>'cause' = :cause"):
        async with sessionmaker() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"cause": str(event.id)})


def test_negotiation_deadline_runs_until_its_last_day_then_is_breached() -> None:
    due = date(2026, 12, 11)
    assert negotiation_deadline_state(CaseStatus.NEGOTIATING, due, date(2026, 12, 11)) is DeadlineState.RUNNING
    assert negotiation_deadline_state(CaseStatus.NEGOTIATING, due, date(2026, 12, 12)) is DeadlineState.BREACHED
    assert negotiation_deadline_state(CaseStatus.SETTLED, due, date(2026, 12, 12)) is DeadlineState.ENDED


def test_case_transitions_refuse_leaving_final_states() -> None:
    for final in (CaseStatus.SETTLED, CaseStatus.TERMINATED):
        assert TRANSITIONS[final] == frozenset()
        with pytest.raises(Problem) as refused:
            transition(final, CaseStatus.MEDIATING)
        assert refused.value.status == 409
    assert transition(CaseStatus.NEGOTIATING, CaseStatus.FAILED) is CaseStatus.FAILED
