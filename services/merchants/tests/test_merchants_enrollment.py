"""approve_enrollment: state, audit row, API client and outbox event in one transaction; invalid moves refused."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from merchants_testkit import REVIEWER, ApproveMerchant, merchant_details
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.enrollment import service as enrollment_service
from merchants.enrollment.state import FINAL, MOVES, EnrollmentAction, EnrollmentStatus, next_status
from merchants.settings import MerchantsSettings
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.testing.infra import topic_reader

# The tests' settings keep the default PII key.
CIPHER = PiiCipher(MerchantsSettings().pii_key.get_secret_value())


async def test_approval_commits_state_audit_client_and_outbox_event(
    sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox
) -> None:
    details = merchant_details("格尔木审核测试有限公司")
    async with sessionmaker() as session:
        enrollment = await enrollment_service.apply_for_enrollment(session, details=details, actor=REVIEWER,
                                                                   cipher=CIPHER)
        issued = await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=enrollment.id,
                                                             actor=REVIEWER, cipher=CIPHER, reason="criteria met")
    async with sessionmaker() as session:
        status = await session.scalar(text("SELECT status FROM enrollment WHERE id = :id"), {"id": enrollment.id})
        audit = (await session.execute(text(
            "SELECT id, from_status, to_status, actor_role, actor_id, reason_enc FROM enrollment_event "
            "WHERE enrollment_id = :id ORDER BY at"), {"id": enrollment.id})).all()
        clients = await session.scalar(text("SELECT count(*) FROM api_client WHERE merchant_id = :id"),
                                       {"id": issued.merchant_id})
        events = (await session.execute(text(
            "SELECT topic, aggregate_id, event_type, payload, headers FROM outbox WHERE aggregate_id = :id"),
            {"id": str(issued.merchant_id)})).all()
    assert status == "approved"
    assert [(*row[1:5], CIPHER.decrypt(row.reason_enc, context=f"enrollment_event:{row.id}:reason"))
            for row in audit] == [
        (None, "pending", "regulator", "reg-test", "application received"),
        ("pending", "approved", "regulator", "reg-test", "criteria met"),
    ]
    assert clients == 1
    assert len(events) == 1
    event = events[0]
    assert (event.topic, event.event_type) == ("merchants.enrollment", "merchants.enrollment.approved.v1")
    assert event.payload["uscc"] == details.uscc
    assert event.payload["name"] == details.name
    assert event.payload["region_code"] == "632801"
    assert event.headers["ce_source"] == "merchants"


async def test_approving_twice_is_a_conflict_and_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox
) -> None:
    async with sessionmaker() as session:
        enrollment = await enrollment_service.apply_for_enrollment(session, details=merchant_details(),
                                                                   actor=REVIEWER, cipher=CIPHER)
        merchant_id = enrollment.merchant_id
        await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=enrollment.id,
                                                    actor=REVIEWER, cipher=CIPHER)
        with pytest.raises(Problem) as refused:
            await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=enrollment.id,
                                                        actor=REVIEWER, cipher=CIPHER)
    assert refused.value.status == 409
    async with sessionmaker() as session:
        clients = await session.scalar(text("SELECT count(*) FROM api_client WHERE merchant_id = :id"),
                                       {"id": merchant_id})
        events = await session.scalar(text("SELECT count(*) FROM outbox WHERE aggregate_id = :id"),
                                      {"id": str(merchant_id)})
    assert (clients, events) == (1, 1)


async def test_unknown_enrollment_is_404(sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox) -> None:
    async with sessionmaker() as session:
        with pytest.raises(Problem) as missing:
            await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=uuid.uuid4(),
                                                        actor=REVIEWER, cipher=CIPHER)
    assert missing.value.status == 404


async def test_duplicate_registration_is_a_conflict(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    details = merchant_details()
    async with sessionmaker() as session:
        await enrollment_service.apply_for_enrollment(session, details=details, actor=REVIEWER, cipher=CIPHER)
        with pytest.raises(Problem) as duplicate:
            await enrollment_service.apply_for_enrollment(session, details=details, actor=REVIEWER, cipher=CIPHER)
    assert duplicate.value.status == 409


async def test_invalid_uscc_is_a_validation_problem(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    details = merchant_details()
    broken = details.__class__(**{**details.__dict__, "uscc": details.uscc[:17] + ("0" if details.uscc[17] != "0"
                                                                                    else "1")})
    async with sessionmaker() as session:
        with pytest.raises(Problem) as invalid:
            await enrollment_service.apply_for_enrollment(session, details=broken, actor=REVIEWER, cipher=CIPHER)
    assert invalid.value.status == 422
    assert invalid.value.errors is not None
    assert invalid.value.errors[0]["field"] == "uscc"


def test_transition_table_refuses_moves_out_of_final_states() -> None:
    assert {EnrollmentStatus.REVOKED} == FINAL
    for action in EnrollmentAction:
        with pytest.raises(Problem) as refused:
            next_status(EnrollmentStatus.REVOKED, action)
        assert refused.value.status == 409
    assert next_status(EnrollmentStatus.SUSPENDED, EnrollmentAction.REINSTATE) is EnrollmentStatus.APPROVED
    assert next_status(EnrollmentStatus.REJECTED, EnrollmentAction.APPLY) is EnrollmentStatus.PENDING


@pytest.mark.parametrize("current", list(EnrollmentStatus))
def test_only_a_suspended_enterprise_can_be_reinstated_and_only_a_pending_one_approved(
    current: EnrollmentStatus,
) -> None:
    for action, allowed_from in ((EnrollmentAction.REINSTATE, EnrollmentStatus.SUSPENDED),
                                 (EnrollmentAction.APPROVE, EnrollmentStatus.PENDING)):
        assert ((current, action) in MOVES) == (current == allowed_from)


async def test_the_running_service_publishes_the_approval_to_kafka(
    app: object, settings: MerchantsSettings, approved_merchant: ApproveMerchant
) -> None:
    consumer = await topic_reader(settings.kafka_bootstrap, "merchants.enrollment")
    try:
        issued = await approved_merchant()
        async with asyncio.timeout(15):
            while True:
                message = await consumer.getone()
                envelope = EventEnvelope.from_kafka(message.headers, message.value or b"")
                if envelope.subject == str(issued.merchant_id):
                    break
    finally:
        await consumer.stop()
    assert envelope.type == "merchants.enrollment.approved.v1"
    assert message.key == str(issued.merchant_id).encode()
    assert orjson.loads(message.value or b"{}")["merchant_id"] == str(issued.merchant_id)
