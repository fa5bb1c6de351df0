"""Webhooks: configuration with the SSRF guard, signed deliveries to a real receiver, retries, redelivery, disabling."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from merchants_testkit import WEBHOOK_DISABLE_AFTER, WEBHOOK_POLL_INTERVAL, ApproveMerchant, Receiver, eventually
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from merchants.settings import MerchantsSettings
from merchants.webhooks import service as webhook_service
from merchants.webhooks.events import WEBHOOK_EVENT_TYPES, concerns_enterprise, webhook_body
from merchants.webhooks.jobs import WebhookDispatcher
from merchants.webhooks.ssrf import UnsafeTarget, check_target, pinned
from merchants.webhooks.subscriptions import EndpointSubscriptions
from odr_client import WebhookVerificationError, verify_webhook
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintFiled,
    ComplaintRouted,
    ComplaintTransferred,
    RouteTarget,
)
from servicekit.contracts.mediation_v1 import CaseReviewed, OfferMade
from servicekit.events.envelope import EventEnvelope
from servicekit.events.kafka import make_producer, start_client, stop_client
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

WEBHOOK = "/v1/merchant/webhook"
DELIVERIES = "/v1/merchant/webhook/deliveries"
DAY = timedelta(days=1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Standard Webhooks, computed here from the specification rather than with the service's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


FACTS = "购买的枸杞与网页宣传不符"


def routed_event(merchant_id: uuid.UUID, **overrides: Any) -> EventEnvelope:
    """A routed event as the complaints service publishes it: the facts sealed with the shared PII key (the tests'
    settings keep the default key)."""
    complaint_id = uuid.uuid4()
    cipher = PiiCipher(MerchantsSettings().pii_key.get_secret_value())
    fields: dict[str, Any] = {
        "complaint_id": complaint_id, "case_no": "TS-632801-20261128-000001", "target": RouteTarget.MERCHANT,
        "merchant_id": merchant_id, "region_code": "632801", "consumer_id": "consumer-1",
        "complainant": ComplainantForMerchant(name="王芳", phone_masked="138****8000"), "request_type": "refund",
        "request_amount_fen": 29900,
        "facts_sealed": ComplaintRouted.seal_facts(cipher, complaint_id=complaint_id, facts=FACTS),
        "due_date": None, "routed_at": datetime.now(UTC)}
    return ComplaintRouted(**{**fields, **overrides}).envelope(source="complaints")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    yield started
    await started.stop()


@pytest.fixture
async def enterprise(approved_merchant: ApproveMerchant, tokens: Tokens) -> tuple[uuid.UUID, dict[str, str]]:
    issued = await approved_merchant()
    return issued.merchant_id, bearer(tokens.merchant(issued.merchant_id, sub=issued.client_id))


async def configure(client: httpx.AsyncClient, headers: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    response = await client.put(WEBHOOK, json={"url": url, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def owe(sessionmaker: async_sessionmaker[AsyncSession], envelope: EventEnvelope,
              postpone: timedelta | None = None, retry_window: timedelta = DAY) -> uuid.UUID | None:
    """What the inbox consumer does with an event, in one transaction; `postpone` keeps the app's worker off it."""
    async with sessionmaker() as session, session.begin():
        recorded = await webhook_service.record_delivery(session, envelope, retry_window=retry_window)
        delivery_id = await session.scalar(text("SELECT id FROM webhook_delivery WHERE event_id = :id"),
                                           {"id": envelope.id})
        if postpone is not None:
            await session.execute(text("UPDATE webhook_delivery SET next_attempt_at = now() + :later "
                                       "WHERE id = :id"), {"later": postpone, "id": delivery_id})
    return delivery_id if recorded else None


async def delivery_row(sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID) -> Any:
    async with sessionmaker() as session:
        return (await session.execute(text("SELECT * FROM webhook_delivery WHERE id = :id"),
                                      {"id": delivery_id})).one()


def attempt_samples(outcome: str) -> float:
    return REGISTRY.get_sample_value("odr_webhook_attempts_total", {"outcome": outcome}) or 0.0


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://127.0.0.2/hook",
     "http://[::1]/hook", "http://[::ffff:10.0.0.1]/hook", "ftp://example.com/hook",
     "https://user:pw@example.com/hook", "not a url"],
)
async def test_non_public_or_malformed_targets_are_refused(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], url: str
) -> None:
    _, headers = enterprise
    response = await client.put(WEBHOOK, json={"url": url}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.url"


@pytest.mark.parametrize("url", ["http://localhost/hook", "http://127.0.0.1:8080/hook", "http://10.0.0.1/",
                                 "http://169.254.169.254/"])
async def test_without_the_allow_list_loopback_and_localhost_are_refused_too(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="non-public"):
        await check_target(url, ())


async def test_configuration_returns_the_secret_once_and_validates_it(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver
) -> None:
    _, headers = enterprise
    assert (await client.get(WEBHOOK, headers=headers)).status_code == 404
    saved = await configure(client, headers, receiver.url)
    assert saved["secret"].startswith("whsec_")
    assert len(base64.b64decode(saved["secret"][6:])) == 32
    assert (saved["events"], saved["enabled"]) == (["*"], True)
    read = (await client.get(WEBHOOK, headers=headers)).json()
    assert "secret" not in read
    assert read["url"] == receiver.url

    for bad in ({"secret": "plain-text-secret"}, {"secret": "whsec_c2hvcnQ="}, {"events": ["complaints.nope.v1"]},
                {"events": []}, {"secret_rotation": True}):
        refused = await client.put(WEBHOOK, json={"url": receiver.url, **bad}, headers=headers)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await client.put(WEBHOOK, json={"url": receiver.url}, headers={})).status_code == 401


async def test_an_event_reaches_the_receiver_signed_through_kafka(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    settings: MerchantsSettings, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    saved = await configure(client, headers, receiver.url)
    envelope = routed_event(merchant_id)
    producer = await start_client(lambda: make_producer(settings))
    try:
        await producer.send_and_wait(envelope.topic, key=envelope.subject.encode(), value=envelope.kafka_value(),
                                     headers=envelope.kafka_headers())
    finally:
        await stop_client(producer)

    async def arrived() -> bool:
        return bool(receiver.received)

    await eventually(arrived, within=60)
    message = receiver.received[0]
    assert message.headers["webhook-signature"] == expected_signature(saved["secret"], message.headers,
                                                                      message.body)
    assert abs(int(message.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert message.headers["Content-Type"] == "application/json"
    verified = verify_webhook(saved["secret"], message.headers, message.body)  # as the enterprise would
    assert (verified.webhook_id, verified.type) == (message.headers["webhook-id"], "complaints.complaint.routed.v1")
    payload = orjson.loads(message.body)
    assert payload["type"] == "complaints.complaint.routed.v1"
    assert payload["data"]["complaint_id"] == envelope.data["complaint_id"]
    assert payload["data"]["complainant"] == {"name": "王芳", "phone_masked": "138****8000"}
    # The respondent reads the facts in clear; the delivery kept for retries holds them only sealed.
    assert payload["data"]["facts"] == FACTS
    assert "facts_sealed" not in payload["data"]
    async with sessionmaker() as session:
        stored = (await session.execute(text("SELECT payload FROM webhook_delivery WHERE event_id = :id"),
                                        {"id": envelope.id})).scalars().all()
    assert stored
    assert FACTS not in orjson.dumps(stored).decode()

    async def logged() -> bool:
        items = (await client.get(DELIVERIES, headers=headers)).json()["items"]
        return bool(items) and items[0]["status"] == "delivered"

    await eventually(logged)  # the receiver answers before the attempt is recorded
    log = (await client.get(DELIVERIES, headers=headers)).json()
    assert [(item["id"], item["event_id"], item["status"], item["attempts"]) for item in log["items"]] == [
        (message.headers["webhook-id"], str(envelope.id), "delivered", 1)]
    detail = (await client.get(f"{DELIVERIES}/{message.headers['webhook-id']}", headers=headers)).json()
    assert detail["payload"] == payload  # the body it sent, facts opened


async def test_an_owed_delivery_is_sent_at_once_not_at_the_next_poll(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url)
    # Several in a row: a worker that only polled would be caught by one of them (each waits 0-5 s for a poll).
    for sent in range(1, 6):
        owed_at = time.monotonic()
        assert await owe(sessionmaker, routed_event(merchant_id)) is not None

        async def arrived(count: int = sent) -> bool:
            return len(receiver.received) == count

        await eventually(arrived, within=10, interval=0.005)
        assert time.monotonic() - owed_at < WEBHOOK_POLL_INTERVAL / 4


@asynccontextmanager
async def listening_record(engine: AsyncEngine) -> AsyncIterator[EndpointSubscriptions]:
    """A consumer's record of endpoints, listening; remembered for an hour, so only a NOTIFY can refresh it."""
    record = EndpointSubscriptions(ttl=3600)
    listener = asyncio.create_task(record.listen(engine))

    async def listening() -> bool:
        return record.listening

    try:
        await eventually(listening, within=10)
        yield record
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_a_remembered_subscription_is_forgotten_when_the_endpoint_is_saved(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine,
) -> None:
    merchant_id, headers = enterprise
    async with listening_record(engine) as subscriptions:
        await owed_after_saves(client, headers, receiver, sessionmaker, subscriptions, merchant_id)


async def owed_after_saves(client: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver,
                           sessionmaker: async_sessionmaker[AsyncSession], subscriptions: EndpointSubscriptions,
                           merchant_id: uuid.UUID) -> None:
    async def owed_with_record(envelope: EventEnvelope) -> bool:
        async with sessionmaker() as session, session.begin():
            return await webhook_service.record_delivery(session, envelope, retry_window=DAY,
                                                         subscriptions=subscriptions)

    assert not await owed_with_record(routed_event(merchant_id))  # no endpoint yet: remembered as such
    await configure(client, headers, receiver.url, events=[ComplaintFiled.event_type])

    async def routed_owed() -> bool:
        return await owed_with_record(routed_event(merchant_id))

    assert not await routed_owed()  # the endpoint takes only filings
    await configure(client, headers, receiver.url, events=[ComplaintRouted.event_type])
    await eventually(routed_owed, within=5)  # forgotten at once, although remembered for an hour


async def test_an_endpoint_remembered_as_taking_an_event_is_checked_again_when_the_event_comes(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine,
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url)
    # Listening only from now on, so the NOTIFY of that save cannot make the record forget what it learns next.
    async with listening_record(engine) as subscriptions, sessionmaker() as session:
        async with session.begin():
            assert await subscriptions.event_types(session, merchant_id) == {"*"}
            # Disabled behind the record's back (no NOTIFY): the record still says "wanted".
            await session.execute(text("UPDATE webhook_endpoint SET disabled_at = now() WHERE merchant_id = :id"),
                                  {"id": merchant_id})
        async with session.begin():
            assert await subscriptions.event_types(session, merchant_id) == {"*"}
            assert not await webhook_service.record_delivery(session, routed_event(merchant_id), retry_window=DAY,
                                                             subscriptions=subscriptions)


async def test_deliveries_one_after_another_share_one_connection(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url)
    for sent in range(1, 5):
        assert await owe(sessionmaker, routed_event(merchant_id)) is not None

        async def arrived(count: int = sent) -> bool:
            return len(receiver.received) == count

        await eventually(arrived, within=10)
    # An answer left unread would have closed its connection: a new handshake for every delivery.
    assert len(receiver.peers) == 1


async def test_many_owed_deliveries_are_sent_concurrently_and_each_once(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url)
    receiver.delay = 1.0
    envelopes = [routed_event(merchant_id) for _ in range(60)]
    async with sessionmaker() as session, session.begin():
        for envelope in envelopes:
            assert await webhook_service.record_delivery(session, envelope, retry_window=DAY)

    async def all_arrived() -> bool:
        return len(receiver.received) >= len(envelopes)

    await eventually(all_arrived, within=30)
    # More at once than one claim of the old worker (20), which waited for all of them before claiming again.
    assert receiver.peak_in_flight > 30

    async def all_recorded() -> bool:
        async with sessionmaker() as session:
            delivered = await session.scalar(text(
                "SELECT count(*) FROM webhook_delivery WHERE event_id = ANY(:ids) AND status = 'delivered'"),
                {"ids": [envelope.id for envelope in envelopes]})
        return delivered == len(envelopes)

    await eventually(all_recorded)
    assert len(receiver.received) == len(envelopes)
    ids = sorted(orjson.loads(message.body)["data"]["complaint_id"] for message in receiver.received)
    assert ids == sorted(str(envelope.data["complaint_id"]) for envelope in envelopes)


async def test_an_endpoint_that_hangs_never_starves_the_other_enterprises_deliveries(
    client: httpx.AsyncClient, approved_merchant: ApproveMerchant, tokens: Tokens,
    sessionmaker: async_sessionmaker[AsyncSession], settings: MerchantsSettings,
) -> None:
    """More deliveries owed to a hanging endpoint than the worker has slots: another enterprise's still go at once
    (without the per-endpoint share they would wait for the hanging ones to time out)."""
    hanging, healthy = await Receiver().start(), await Receiver().start()
    hanging.delay = 8.0
    try:
        endpoints = []
        for receiver in (hanging, healthy):
            issued = await approved_merchant()
            await configure(client, bearer(tokens.merchant(issued.merchant_id, sub=issued.client_id)), receiver.url)
            endpoints.append(issued.merchant_id)
        async with sessionmaker() as session, session.begin():
            for _ in range(settings.webhook_concurrency + 6):
                assert await webhook_service.record_delivery(session, routed_event(endpoints[0]), retry_window=DAY)

        async def hanging_busy() -> bool:
            return hanging.in_flight >= settings.webhook_concurrency_per_endpoint

        await eventually(hanging_busy, within=10)
        owed_at = time.monotonic()
        for _ in range(3):
            assert await owe(sessionmaker, routed_event(endpoints[1])) is not None

        async def healthy_served() -> bool:
            return len(healthy.received) == 3

        await eventually(healthy_served, within=8)
        assert time.monotonic() - owed_at < 4, "the other enterprise waited for the hanging endpoint"
        assert hanging.peak_in_flight <= settings.webhook_concurrency_per_endpoint
    finally:
        await healthy.stop()
        await hanging.stop()


async def test_only_subscribed_events_of_the_enterprise_are_owed_once(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession], approved_merchant: ApproveMerchant,
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url, events=["complaints.complaint.routed.v1"])
    routed = routed_event(merchant_id)
    assert await owe(sessionmaker, routed) is not None
    assert await owe(sessionmaker, routed) is None  # the same event again
    offer = OfferMade(case_id=uuid.uuid4(), complaint_id=uuid.uuid4(), merchant_id=merchant_id, region_code="632801",
                      at=datetime.now(UTC), offer_id=uuid.uuid4(), made_by="consumer", offer_type="refund",
                      amount_fen=100, fulfil_by=None).envelope(source="mediation")
    assert await owe(sessionmaker, offer) is None  # not subscribed
    report = ComplaintFiled(complaint_id=uuid.uuid4(), case_no="JB-1", kind="report", region_code="632801",
                            merchant_id=merchant_id, respondent_name="x", sector="retail", category=None,
                            channel="app", request_type="other", request_amount_fen=None, green_channel=False,
                            filed_at=datetime.now(UTC)).envelope(source="complaints")
    assert await owe(sessionmaker, report) is None  # reports are never shown to the business
    other = await approved_merchant()
    assert await owe(sessionmaker, routed_event(other.merchant_id)) is None  # no endpoint configured
    to_regulator = routed_event(merchant_id, target=RouteTarget.REGULATOR)
    assert await owe(sessionmaker, to_regulator) is None  # not the enterprise's to handle


async def test_a_regulator_s_review_of_an_outcome_is_never_sent_to_the_enterprise(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url, events=["*"])
    reviewed = CaseReviewed(case_id=uuid.uuid4(), complaint_id=uuid.uuid4(), merchant_id=merchant_id,
                            region_code="632801", at=datetime.now(UTC), review_id=uuid.uuid4(),
                            outcome="referred_for_enforcement", finding=True, signals=["low_settlement"],
                            sampled=False).envelope(source="mediation")
    assert await owe(sessionmaker, reviewed) is None
    named = await client.put(WEBHOOK, json={"url": receiver.url, "events": [CaseReviewed.event_type]},
                             headers=headers)
    assert named.status_code == 422


async def test_receiver_down_means_retries_then_delivery_once_it_is_back(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    saved = await configure(client, headers, receiver.url)
    await receiver.stop()
    retried_before, delivered_before = attempt_samples("will_retry"), attempt_samples("delivered")
    delivery_id = await owe(sessionmaker, routed_event(merchant_id))
    assert delivery_id is not None

    async def failed_twice() -> bool:
        row = await delivery_row(sessionmaker, delivery_id)
        return bool(row.attempts >= 2)

    await eventually(failed_twice)
    row = await delivery_row(sessionmaker, delivery_id)
    assert row.status == "pending"
    assert row.last_error.startswith("ClientConnectorError: Cannot connect to host")
    await receiver.start()

    async def delivered() -> bool:
        return bool((await delivery_row(sessionmaker, delivery_id)).status == "delivered")

    await eventually(delivered)
    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message.headers["webhook-id"] == str(delivery_id)
    assert message.headers["webhook-signature"] == expected_signature(saved["secret"], message.headers, message.body)
    async with sessionmaker() as session:
        attempts = (await session.execute(text(
            "SELECT status_code, error FROM webhook_attempt WHERE delivery_id = :id ORDER BY at"),
            {"id": delivery_id})).all()
    assert attempts[-1].status_code == 204
    assert all(attempt.status_code is None and attempt.error for attempt in attempts[:-1])
    assert len(attempts) == (await delivery_row(sessionmaker, delivery_id)).attempts
    # The alerting metric saw each failed attempt and the delivery (other tests' deliveries may add to both).
    assert attempt_samples("will_retry") - retried_before >= len(attempts) - 1
    assert attempt_samples("delivered") - delivered_before >= 1
    detail = (await client.get(f"{DELIVERIES}/{delivery_id}", headers=headers)).json()
    assert [attempt["status_code"] for attempt in detail["attempt_log"]] == [row.status_code for row in attempts]
    assert detail["payload"] == orjson.loads(message.body)


async def test_manual_redelivery_sends_the_same_message_again(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens, approved_merchant: ApproveMerchant,
) -> None:
    merchant_id, headers = enterprise
    await configure(client, headers, receiver.url)
    delivery_id = await owe(sessionmaker, routed_event(merchant_id))
    assert delivery_id is not None

    async def received(count: int) -> bool:
        return len(receiver.received) >= count

    async def delivered(attempts: int) -> bool:
        row = await delivery_row(sessionmaker, delivery_id)
        return bool(row.status == "delivered" and row.attempts == attempts)

    await eventually(lambda: delivered(1))
    redelivered = await client.post(f"{DELIVERIES}/{delivery_id}/redeliver", headers=headers)
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["status"] == "pending"
    await eventually(lambda: received(2))
    first, second = receiver.received[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery_id)
    assert first.body == second.body

    await eventually(lambda: delivered(2))
    stranger = await approved_merchant()
    foreign = await client.post(f"{DELIVERIES}/{delivery_id}/redeliver",
                                headers=bearer(tokens.merchant(stranger.merchant_id)))
    assert foreign.status_code == 404


async def test_a_new_secret_is_signed_beside_the_old_one_until_the_overlap_ends(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    old = (await configure(client, headers, receiver.url))["secret"]
    new = (await configure(client, headers, receiver.url))["secret"]  # omitted: a fresh one is generated
    assert new != old

    async def received(count: int) -> bool:
        return len(receiver.received) >= count

    await owe(sessionmaker, routed_event(merchant_id))
    await eventually(lambda: received(1))
    message = receiver.received[0]
    assert len(message.headers["webhook-signature"].split()) == 2
    for secret in (old, new):  # receivers on either secret accept it
        assert verify_webhook(secret, message.headers, message.body).type == "complaints.complaint.routed.v1"

    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE webhook_endpoint SET previous_secret_until = now() "
                                   "WHERE merchant_id = :id"), {"id": merchant_id})
    await owe(sessionmaker, routed_event(merchant_id))
    await eventually(lambda: received(2))
    latest = receiver.received[1]
    assert latest.headers["webhook-signature"] == expected_signature(new, latest.headers, latest.body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(old, latest.headers, latest.body)
    assert (await configure(client, headers, receiver.url, secret=new))["secret"] == new
    async with sessionmaker() as session:
        overlapping = await session.scalar(text(
            "SELECT previous_secret_until > now() FROM webhook_endpoint WHERE merchant_id = :id"), {"id": merchant_id})
    assert overlapping is False  # saving the same secret again starts no overlap


async def test_sustained_failure_disables_the_endpoint_with_a_notice(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id, headers = enterprise
    receiver.answer_status = 500
    await configure(client, headers, receiver.url)
    delivery_id = await owe(sessionmaker, routed_event(merchant_id))
    assert delivery_id is not None

    async def disabled() -> bool:
        return not (await client.get(WEBHOOK, headers=headers)).json()["enabled"]

    await eventually(disabled)
    read = (await client.get(WEBHOOK, headers=headers)).json()
    assert read["consecutive_failures"] == WEBHOOK_DISABLE_AFTER
    assert f"{WEBHOOK_DISABLE_AFTER} consecutive failed deliveries" in read["disabled_reason"]
    assert len(receiver.received) == WEBHOOK_DISABLE_AFTER
    async with sessionmaker() as session:
        notices = (await session.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = :type"),
            {"id": str(merchant_id), "type": "merchants.enrollment.webhook_disabled.v1"})).all()
    assert len(notices) == 1
    assert notices[0].payload["url"] == receiver.url
    assert (await client.post(f"{DELIVERIES}/{delivery_id}/redeliver", headers=headers)).status_code == 409

    receiver.answer_status = 200
    assert (await configure(client, headers, receiver.url))["enabled"] is True

    async def delivered() -> bool:
        return bool((await delivery_row(sessionmaker, delivery_id)).status == "delivered")

    await eventually(delivered)


async def test_backoff_doubles_and_delivery_is_given_up_after_the_retry_window(
    client: httpx.AsyncClient, enterprise: tuple[uuid.UUID, dict[str, str]], receiver: Receiver,
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox, settings: MerchantsSettings,
) -> None:
    merchant_id, headers = enterprise
    receiver.answer_status = 503
    await configure(client, headers, receiver.url)
    # A day ahead of the wall clock, so only this test's dispatcher (on its own clock) ever finds it due.
    delivery_id = await owe(sessionmaker, routed_event(merchant_id), postpone=DAY, retry_window=2 * DAY)
    assert delivery_id is not None
    now = datetime.now(UTC) + DAY + timedelta(seconds=1)
    dispatcher = WebhookDispatcher(engine=engine, sessionmaker=sessionmaker, outbox=outbox, settings=settings,
                                   cipher=PiiCipher(settings.pii_key.get_secret_value()), clock=lambda: now)
    gaps = []
    async with dispatcher.client() as http:
        for _ in range(3):
            assert await dispatcher.dispatch_once(http) == 1
            row = await delivery_row(sessionmaker, delivery_id)
            gaps.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
        assert row.status == "pending"
        assert row.last_status_code == 503
        base = settings.webhook_backoff_base_seconds
        for attempt, gap in enumerate(gaps):
            assert base * 2**attempt * 0.9 <= gap <= base * 2**attempt * 1.1

        now = row.retry_until + timedelta(seconds=1)
        assert await dispatcher.dispatch_once(http) == 1
    row = await delivery_row(sessionmaker, delivery_id)
    assert (row.status, row.attempts) == ("failed", 4)
    failed = (await client.get(DELIVERIES, params={"status": "failed"}, headers=headers)).json()["items"]
    assert [item["id"] for item in failed] == [str(delivery_id)]
    assert failed[0]["next_attempt_at"] is None


@pytest.mark.parametrize(
    ("url", "address", "expected"),
    [
        ("https://hooks.example.com/odr?x=1", "93.184.216.34",
         ("https://93.184.216.34/odr?x=1", {"Host": "hooks.example.com"}, "hooks.example.com")),
        ("http://hooks.example.com:8080", "2606:2800:220:1::1",
         ("http://[2606:2800:220:1::1]:8080/", {"Host": "hooks.example.com:8080"}, None)),
    ],
)
def test_deliveries_connect_to_the_checked_address(url: str, address: str,
                                                   expected: tuple[str, dict[str, str], str | None]) -> None:
    assert pinned(url, ipaddress.ip_address(address)) == expected


def test_a_webhook_body_carries_the_masked_name_and_never_the_sealed_one() -> None:
    complaint_id = uuid.uuid4()
    complainant = ComplainantForMerchant.sealed(PiiCipher("k"), complaint_id=complaint_id, name="王芳",
                                                phone="13800138000")
    routed = ComplaintRouted(
        complaint_id=complaint_id, case_no="TS-632801-20261204-000001", target=RouteTarget.MERCHANT,
        merchant_id=uuid.uuid4(), region_code="632801", consumer_id="c_1", complainant=complainant,
        request_type="refund", request_amount_fen=100, facts="f", due_date=None, routed_at=datetime.now(UTC))
    body = webhook_body(routed.envelope(source="complaints"))
    assert body["data"]["complainant"] == {"name": "王*", "phone_masked": "138****8000"}


def test_a_transfer_between_bureaus_reaches_the_enterprise_the_case_had_reached() -> None:
    def transferred(merchant_id: uuid.UUID | None) -> EventEnvelope:
        return ComplaintTransferred(
            complaint_id=uuid.uuid4(), case_no="TS-632801-20261204-000001", from_region="632801",
            region_code="632802", merchant_id=merchant_id, reason="经营者住所地在德令哈",
            due_date=datetime.now(UTC).date(), transferred_at=datetime.now(UTC)).envelope(source="complaints")

    assert ComplaintTransferred.event_type in WEBHOOK_EVENT_TYPES
    assert concerns_enterprise(transferred(uuid.uuid4()))
    assert not concerns_enterprise(transferred(None))
