"""Text messages from the complaints service: sign-in codes queued for the gateway within limits, notifications
queued in the transaction of their cause and once, sent by the dispatcher (development sender and the Alibaba Cloud
adapter against a fake provider), retried with backoff, failures recorded, nothing personal in clear."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from complaints_support import PII_KEY, Area, Consumer, Seed, bearer, complaint_body, file_case
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.cli import read_sms_log
from complaints.complaint import decisions
from complaints.consumers.mediation import mediation_handlers
from complaints.database import outbox
from complaints.notifications import service as notifications
from complaints.notifications.models import SmsOutbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.calendar import ZONE
from servicekit.contracts.mediation_v1 import CaseSettled, OfferMade
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.sms import AliyunSmsSender, DevSmsSender, SmsTemplate
from servicekit.testing.fake_aliyun_sms import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeAliyunSms
from servicekit.testing.plugin import Tokens

CIPHER = PiiCipher(PII_KEY)
CODES = "/internal/v1/sms/sign-in-codes"
BACKOFF = notifications.Backoff(base=timedelta(seconds=30), ceiling=timedelta(minutes=10), max_attempts=3)
REGULATOR = "/v1/regulator/complaints"


def a_phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


async def rows(sessionmaker: async_sessionmaker[AsyncSession], **where: object) -> list[SmsOutbox]:
    async with sessionmaker() as session:
        query = select(SmsOutbox).order_by(SmsOutbox.created_at)
        for name, value in where.items():
            query = query.where(getattr(SmsOutbox, name) == value)
        return list((await session.execute(query)).scalars().all())


async def dispatch_all(sessionmaker: async_sessionmaker[AsyncSession], sender: object) -> None:
    while True:
        async with sessionmaker() as session:
            if not await notifications.dispatch_due(session, CIPHER, sender, backoff=BACKOFF):  # type: ignore[arg-type]
                return


@pytest.fixture(autouse=True)
async def nothing_else_due(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Each test dispatches its own messages: what earlier tests left pending is set aside."""
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SmsOutbox).where(SmsOutbox.status == "pending")
                              .values(status="failed", last_error="set_aside"))


async def test_the_gateway_queues_a_code_that_is_stored_encrypted_and_sent_once(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession],
        settings: ComplaintsSettings) -> None:
    phone = a_phone()
    queued = await client.post(CODES, json={"phone": phone, "code": "493817", "client_address": "203.0.113.9"},
                               headers={"X-Internal-Token": settings.internal_token.get_secret_value()})
    assert queued.status_code == 202, queued.text
    [row] = await rows(sessionmaker, phone_index=CIPHER.blind_index(phone))
    assert row.template == "sign_in_code"
    stored = b"".join(value for value in (row.phone_enc, row.params_enc, row.phone_index, row.address_index)
                      if value is not None)
    for secret in (phone, "493817", "203.0.113.9"):
        assert secret.encode() not in stored
    assert row.expires_at is not None
    assert timedelta(minutes=4) < row.expires_at - row.created_at <= timedelta(minutes=5)

    again = await client.post(CODES, json={"phone": phone, "code": "493817", "client_address": "203.0.113.9"},
                              headers={"X-Internal-Token": settings.internal_token.get_secret_value()})
    assert again.status_code == 429
    assert again.headers["retry-after"] == "60"
    assert len(await rows(sessionmaker, phone_index=CIPHER.blind_index(phone))) == 1
    outside = await client.post(CODES, json={"phone": phone, "code": "493817", "client_address": "x"})
    assert outside.status_code == 403

    await dispatch_all(sessionmaker, DevSmsSender())
    [sent] = await rows(sessionmaker, id=row.id)
    assert (sent.status, sent.provider, sent.attempts) == ("sent", "dev", 1)
    assert sent.provider_message_id == f"dev-{row.id.hex}"
    log = await read_sms_log(settings, 50)
    assert any(entry.phone == phone and "493817" in entry.text and entry.status == "sent" for entry in log)


async def test_codes_are_limited_per_phone_and_per_address(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    limits = notifications.CodeLimits(interval=timedelta(0), per_phone_hour=2, per_phone_day=3, per_address_hour=3)
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    first, second = a_phone(), a_phone()

    async def ask(phone: str, at: str = address) -> int:
        async with sessionmaker() as session:
            try:
                await notifications.queue_sign_in_code(session, CIPHER, phone=phone, code="111111", address=at,
                                                       limits=limits)
            except Problem as refused:
                return refused.status
            return 202

    assert [await ask(first), await ask(first), await ask(first)] == [202, 202, 429]
    assert [await ask(second), await ask(second)] == [202, 429]
    assert await ask(second, at="192.0.2.1") == 202
    assert len(await rows(sessionmaker, phone_index=CIPHER.blind_index(first))) == 2
    assert len(await rows(sessionmaker, address_index=CIPHER.blind_index(f"address:{address}"))) == 3


async def test_routing_to_the_enterprise_texts_the_complainant_with_the_final_case_number(
        client: httpx.AsyncClient, consumer: Consumer, area: Area, enrolled_merchant: Seed,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    merchant_id = await enrolled_merchant(area.first)
    phone = a_phone()
    _, auth = consumer()
    body = complaint_body(respondent={"merchant_id": str(merchant_id)},
                          complainant={"name": "王芳", "phone": phone, "address": "青海省格尔木市昆仑中路12号"})
    filed = await client.post("/v1/consumer/complaints", json=body, headers=auth)
    assert filed.status_code == 201, filed.text
    complaint_id = uuid.UUID(filed.json()["id"])

    [row] = await rows(sessionmaker, complaint_id=complaint_id)
    assert (row.template, row.phone_enc, row.phone_index) == ("routed_to_enterprise", None, None)
    await dispatch_all(sessionmaker, DevSmsSender())
    [message] = [entry for entry in await read_sms_log_of(sessionmaker) if entry.id == row.id]
    assert message.phone == phone
    assert filed.json()["case_no"] in message.text
    assert message.text.startswith("您的投诉TS-")


async def read_sms_log_of(sessionmaker: async_sessionmaker[AsyncSession]) -> list[notifications.LoggedMessage]:
    async with sessionmaker() as session:
        return await notifications.recent_messages(session, CIPHER, limit=50)


async def test_decisions_text_the_complainant_and_a_refusal_is_not_texted_twice(
        client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, auth = consumer()
    regulator = bearer(tokens.regulator(region=area.first))
    accepted = await file_case(client, auth, area.first)
    refused = await file_case(client, auth, area.first)
    assert (await client.post(f"{REGULATOR}/{accepted['id']}/accept", headers=regulator)).status_code == 200
    refusal = await client.post(f"{REGULATOR}/{refused['id']}/refuse", json={"ground": 4, "note": "不属于本部门管辖"},
                                headers=regulator)
    assert refusal.status_code == 200, refusal.text

    assert [row.template for row in await rows(sessionmaker, complaint_id=uuid.UUID(accepted["id"]))] == [
        "decision_taken"]
    assert [row.template for row in await rows(sessionmaker, complaint_id=uuid.UUID(refused["id"]))] == [
        "decision_taken"]
    await dispatch_all(sessionmaker, DevSmsSender())
    texts = {entry.text for entry in await read_sms_log_of(sessionmaker)}
    assert f"市场监管部门已对您的投诉{accepted['case_no']}作出受理决定，请登录查看。" in texts
    assert f"市场监管部门已对您的投诉{refused['case_no']}作出不予受理决定，请登录查看。" in texts


async def test_an_enterprise_offer_is_texted_once_however_often_the_event_comes(
        client: httpx.AsyncClient, consumer: Consumer, area: Area,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    handler = mediation_handlers(publisher=Publisher(outbox=Outbox(outbox, "complaints"), source="complaints",
                                                     cipher=PiiCipher(PII_KEY)),
                                 cipher=CIPHER)[OfferMade.event_type]

    def offer(made_by: str) -> OfferMade:
        return OfferMade(case_id=uuid.uuid4(), complaint_id=uuid.UUID(filed["id"]), merchant_id=uuid.uuid4(),
                         region_code=area.first, at=utcnow(), offer_id=uuid.uuid4(), made_by=made_by,
                         offer_type="refund", amount_fen=100, fulfil_by=None)

    from_enterprise = offer("enterprise").envelope(source="mediation")
    for envelope in (from_enterprise, from_enterprise, offer("consumer").envelope(source="mediation")):
        async with sessionmaker() as session, session.begin():
            await handler(session, envelope)
    assert [row.template for row in await rows(sessionmaker, complaint_id=uuid.UUID(filed["id"]))] == [
        "offer_received"]


async def test_a_negotiation_period_about_to_end_is_texted_once(
        client: httpx.AsyncClient, consumer: Consumer, area: Area, enrolled_merchant: Seed,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    merchant_id = await enrolled_merchant(area.first)
    _, auth = consumer()
    filed = await client.post("/v1/consumer/complaints", headers=auth,
                              json=complaint_body(respondent={"merchant_id": str(merchant_id)}))
    assert filed.status_code == 201, filed.text
    complaint_id = uuid.UUID(filed.json()["id"])
    due = next(d for d in filed.json()["deadlines"] if d["kind"] == "merchant_negotiation")["due_date"]
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(SmsOutbox).where(SmsOutbox.complaint_id == complaint_id))
    day_before = datetime.fromisoformat(due).replace(hour=9, tzinfo=ZONE) - timedelta(days=1)
    too_early = day_before - timedelta(days=1)

    for now in (too_early, day_before, day_before + timedelta(hours=2)):
        async with sessionmaker() as session:
            await notifications.queue_deadline_notices(session, CIPHER, now=now, days_before=1)
    [row] = await rows(sessionmaker, complaint_id=complaint_id)
    assert row.template == "deadline_approaching"
    params = json.loads(CIPHER.decrypt(row.params_enc, context=f"sms:{row.id}:params"))
    due_date = datetime.fromisoformat(due)
    assert params == {"due_date": f"{due_date.month}月{due_date.day}日"}


@pytest.fixture
async def provider() -> AsyncIterator[FakeAliyunSms]:
    fake = await FakeAliyunSms(answers={"13700000002": "isv.BUSINESS_LIMIT_CONTROL",
                                        "13700000003": "isv.MOBILE_NUMBER_ILLEGAL"}).start()
    yield fake
    await fake.stop()


async def test_through_the_provider_sent_retried_with_backoff_and_failures_recorded(
        provider: FakeAliyunSms, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        for phone in ("13700000001", "13700000002", "13700000003"):
            await notifications.enqueue(session, CIPHER, template=SmsTemplate.SIGN_IN_CODE, params={"code": "654321"},
                                        phone=phone, expires_at=utcnow() + timedelta(minutes=5))
        await notifications.enqueue(session, CIPHER, template=SmsTemplate.SIGN_IN_CODE, params={"code": "000000"},
                                    phone="13700000001", expires_at=utcnow() - timedelta(seconds=1))
    codes = {template.value: f"SMS_{index}" for index, template in enumerate(SmsTemplate)}
    async with httpx.AsyncClient() as client:
        sender = AliyunSmsSender(client, access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                                 sign_name="12315", template_codes=codes, endpoint=provider.url)
        started = utcnow()
        await dispatch_all(sessionmaker, sender)
        by_phone = {}
        for row in await rows(sessionmaker, template="sign_in_code"):
            if row.created_at >= started - timedelta(minutes=1) and row.phone_enc is not None:
                by_phone.setdefault(CIPHER.decrypt(row.phone_enc, context=f"sms:{row.id}:phone"), []).append(row)
        sent, expired = sorted(by_phone["13700000001"], key=lambda row: row.status)[::-1]
        assert (sent.status, sent.provider, sent.provider_message_id) == ("sent", "aliyun", "biz-1")
        assert (expired.status, expired.last_error, expired.attempts) == ("failed", "expired", 0)
        [throttled] = by_phone["13700000002"]
        assert (throttled.status, throttled.attempts, throttled.last_error) == (
            "pending", 1, "isv.BUSINESS_LIMIT_CONTROL")
        assert timedelta(seconds=29) < throttled.next_attempt_at - started < timedelta(seconds=40)
        [rejected] = by_phone["13700000003"]
        assert (rejected.status, rejected.last_error) == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")
        assert provider.bad_signatures == 0
        assert [form["PhoneNumbers"] for form in provider.received] == ["13700000001", "13700000002",
                                                                         "13700000003"]

        # Due again: the next failure doubles the wait; at the last attempt it is given up and recorded.
        for attempt in (2, 3):
            async with sessionmaker() as session, session.begin():
                await session.execute(update(SmsOutbox).where(SmsOutbox.id == throttled.id)
                                      .values(next_attempt_at=utcnow()))
            before = utcnow()
            await dispatch_all(sessionmaker, sender)
            [retried] = await rows(sessionmaker, id=throttled.id)
            assert retried.attempts == attempt
            if attempt == 2:
                assert retried.status == "pending"
                assert timedelta(seconds=59) < retried.next_attempt_at - before < timedelta(seconds=70)
        assert (retried.status, retried.last_error) == ("failed", "isv.BUSINESS_LIMIT_CONTROL")
        assert len(provider.received) == 5


async def test_sent_and_failed_messages_are_pruned_after_the_retention_period_and_pending_ones_never(
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        for phone in ("13600000001", "13600000002", "13600000003"):
            await notifications.enqueue(session, CIPHER, template=SmsTemplate.SIGN_IN_CODE, params={"code": "1"},
                                        phone=phone, dedup_key=f"prune-test:{phone}:{uuid.uuid4()}")
    queued = {CIPHER.decrypt(row.phone_enc, context=f"sms:{row.id}:phone"): row
              for row in await rows(sessionmaker, status="pending") if row.phone_enc is not None}
    old = utcnow() - timedelta(days=8)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SmsOutbox).where(SmsOutbox.id == queued["13600000001"].id)
                              .values(status="sent", created_at=old))
        await session.execute(update(SmsOutbox).where(SmsOutbox.id == queued["13600000002"].id)
                              .values(status="pending", created_at=old))
        await session.execute(update(SmsOutbox).where(SmsOutbox.id == queued["13600000003"].id)
                              .values(status="failed", created_at=utcnow() - timedelta(hours=2)))
    async with sessionmaker() as session, session.begin():
        await notifications.prune_settled(session, older_than=utcnow() - timedelta(days=7))
    left = {row.id for row in await rows(sessionmaker)}
    assert queued["13600000001"].id not in left
    assert {queued["13600000002"].id, queued["13600000003"].id} <= left


async def test_a_settlement_from_mediation_closes_the_case_and_texts_its_outcome(
        client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    regulator = bearer(tokens.regulator(region=area.first))
    accepted = await client.post(f"{REGULATOR}/{filed['id']}/accept", headers=regulator)
    assert accepted.status_code == 200, accepted.text
    settled = CaseSettled(case_id=uuid.uuid4(), complaint_id=uuid.UUID(filed["id"]), merchant_id=None,
                          region_code=area.first, at=utcnow(), stage="mediation", agreement_id=uuid.uuid4(),
                          agreement_hash="0" * 64, amount_fen=29900, fulfil_by=None)
    publisher = Publisher(outbox=notifications.NotifyingOutbox(outbox, "complaints", CIPHER), source="complaints",
                          cipher=PiiCipher(PII_KEY))
    async with sessionmaker() as session, session.begin():
        await decisions.record_settled(session, settled, publisher)

    assert [row.template for row in await rows(sessionmaker, complaint_id=uuid.UUID(filed["id"]))] == [
        "decision_taken", "case_closed"]
    await dispatch_all(sessionmaker, DevSmsSender())
    texts = {entry.text for entry in await read_sms_log_of(sessionmaker)}
    assert f"您的投诉{filed['case_no']}已办结（已和解），欢迎登录评价。" in texts
