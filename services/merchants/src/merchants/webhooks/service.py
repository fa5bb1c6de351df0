"""Webhook use cases: configuring the endpoint, recording deliveries from events, the log and redelivery."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Table, bindparam, literal, select, update
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from merchants.webhooks.events import (
    ALL,
    WEBHOOK_EVENT_TYPES,
    concerns_enterprise,
    sent_body,
    subscribed,
    webhook_body,
)
from merchants.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from merchants.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryList,
    DeliveryRead,
    WebhookConfig,
    WebhookRead,
    WebhookSaved,
)
from merchants.webhooks.signing import InvalidSecret, generate_secret, secret_key
from merchants.webhooks.ssrf import IPNetwork, UnsafeTarget, check_target
from merchants.webhooks.subscriptions import ENDPOINTS_CHANGED_CHANNEL, EndpointSubscriptions
from servicekit.db import new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.notify import notify_after_commit
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.tracing import current_traceparent

# The delivery worker LISTENs here; it is notified after the commit, so it never looks before the row is visible.
DELIVERIES_DUE_CHANNEL = "webhook_deliveries_due"
delivery_table: Table = WebhookDelivery.__table__  # type: ignore[assignment]


def secret_context(merchant_id: uuid.UUID) -> str:
    """Binds an encrypted secret to its enterprise, so a row copied to another one does not decrypt."""
    return f"webhook-secret:{merchant_id}"


def _field_problem(field: str, message: str, code: str) -> Problem:
    return Problem("validation-error", errors=[{"field": field, "message": message, "code": code}])


async def _validated(config: WebhookConfig, allowed: tuple[IPNetwork, ...]) -> tuple[str, list[str]]:
    try:
        await check_target(config.url, allowed)
    except UnsafeTarget as exc:
        raise _field_problem("body.url", str(exc), "url_not_allowed") from exc
    secret = config.secret if config.secret is not None else generate_secret()
    try:
        secret_key(secret)
    except InvalidSecret as exc:
        raise _field_problem("body.secret", str(exc), "secret_invalid") from exc
    unknown = sorted(set(config.events) - WEBHOOK_EVENT_TYPES - {ALL})
    if unknown:
        raise _field_problem("body.events", f"unknown event types: {', '.join(unknown)}", "event_type_unknown")
    return secret, sorted(set(config.events))


def _read(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(url=endpoint.url, events=endpoint.event_types, enabled=endpoint.disabled_at is None,
                       consecutive_failures=endpoint.consecutive_failures, disabled_at=endpoint.disabled_at,
                       disabled_reason=endpoint.disabled_reason)


async def configure_webhook(session: AsyncSession, *, merchant_id: uuid.UUID, config: WebhookConfig,
                            cipher: PiiCipher, allowed: tuple[IPNetwork, ...],
                            secret_overlap: timedelta) -> WebhookSaved:
    """Use case: set (or replace) the endpoint; saving also re-enables one that was disabled.

    A changed secret does not strand receivers still holding the old one: deliveries are signed with both
    until `secret_overlap` has passed.
    """
    secret, events = await _validated(config, allowed)
    now = utcnow()
    context = secret_context(merchant_id)
    values: dict[str, Any] = {
        "url": config.url, "secret_encrypted": cipher.encrypt(secret, context=context), "event_types": events,
        "consecutive_failures": 0, "failing_since": None, "disabled_at": None, "disabled_reason": None,
        "updated_at": now}
    async with session.begin():
        current = (await session.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.merchant_id == merchant_id).with_for_update()
        )).scalar_one_or_none()
        if current is not None and cipher.decrypt(current.secret_encrypted, context=context) != secret:
            values |= {"previous_secret_encrypted": current.secret_encrypted,
                       "previous_secret_until": now + secret_overlap}
        statement = insert(WebhookEndpoint).values(merchant_id=merchant_id, created_at=now, **values)
        await session.execute(statement.on_conflict_do_update(index_elements=[WebhookEndpoint.merchant_id],
                                                              set_=values))
        # Consumers that remember which events the endpoint takes forget it when this commits.
        notify_after_commit(session, ENDPOINTS_CHANGED_CHANNEL, str(merchant_id))
        endpoint = await session.get(WebhookEndpoint, merchant_id, populate_existing=True)
        assert endpoint is not None
        return WebhookSaved(**_read(endpoint).model_dump(), secret=secret)


async def get_webhook(session: AsyncSession, *, merchant_id: uuid.UUID) -> WebhookRead:
    """The enterprise's endpoint (without its secret), or 404."""
    endpoint = await session.get(WebhookEndpoint, merchant_id)
    if endpoint is None:
        raise Problem("not-found", "No webhook is configured")
    return _read(endpoint)


def _owing() -> ReturningInsert[Any]:
    """One statement: the delivery row, if the enterprise's enabled endpoint takes the event and it is not owed yet
    (its id when it was written). Built once, run with parameters."""
    columns = delivery_table.c
    row = select(
        WebhookEndpoint.merchant_id,
        *(bindparam(name, type_=columns[name].type).label(name) for name in _OWING_PARAMETERS),
        literal(DeliveryStatus.PENDING.value, columns.status.type).label("status"),
        literal(0, columns.attempts.type).label("attempts"),
    ).where(WebhookEndpoint.merchant_id == bindparam("merchant_id"), WebhookEndpoint.disabled_at.is_(None),
            WebhookEndpoint.event_types.overlap(array([ALL, bindparam("wanted", type_=String(128))])))
    # On the table, not the mapped class: the ORM would take a statement run with parameters for a bulk insert.
    inserted = (insert(delivery_table).from_select(["merchant_id", *_OWING_PARAMETERS, "status", "attempts"], row)
                .on_conflict_do_nothing(index_elements=[columns.merchant_id, columns.event_id])
                .returning(columns.id))
    return inserted


_OWING_PARAMETERS = ("id", "event_id", "event_type", "payload", "next_attempt_at", "retry_until", "created_at",
                     "traceparent")
_OWE = _owing()


async def record_delivery(session: AsyncSession, envelope: EventEnvelope, *, retry_window: timedelta,
                          subscriptions: EndpointSubscriptions | None = None) -> bool:
    """Inbox step: owe the event to its enterprise when an enabled endpoint subscribes to it; True if recorded.

    With `subscriptions`, an event no endpoint takes costs no statement; otherwise (and whenever one may take it)
    a single statement checks the endpoint and inserts the delivery; the worker is woken after the commit. Safe to
    repeat in one transaction: the event is owed once, and the worker woken once.
    """
    if not concerns_enterprise(envelope):
        return False
    merchant_id = uuid.UUID(str(envelope.data["merchant_id"]))
    if subscriptions is not None:
        event_types = await subscriptions.event_types(session, merchant_id)
        if event_types is None or not subscribed(event_types, envelope.type):
            return False
    now = utcnow()
    owed = await session.execute(_OWE, {
        "merchant_id": merchant_id, "wanted": envelope.type, "id": new_id(), "event_id": envelope.id,
        "event_type": envelope.type, "payload": webhook_body(envelope), "next_attempt_at": now,
        "retry_until": now + retry_window, "created_at": now, "traceparent": current_traceparent()})
    if owed.first() is None:
        return False
    notify_after_commit(session, DELIVERIES_DUE_CHANNEL)
    return True


def _delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id, event_id=delivery.event_id, event_type=delivery.event_type, status=delivery.status,
        attempts=delivery.attempts, created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
        last_attempt_at=delivery.last_attempt_at, last_status_code=delivery.last_status_code,
        last_error=delivery.last_error, delivered_at=delivery.delivered_at)


async def list_deliveries(session: AsyncSession, *, merchant_id: uuid.UUID, status: DeliveryStatus | None,
                          cursor: str | None, limit: int) -> DeliveryList:
    """The enterprise's deliveries, newest first."""
    query = (select(WebhookDelivery).where(WebhookDelivery.merchant_id == merchant_id)
             .order_by(WebhookDelivery.id.desc()).limit(limit + 1))
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < decode_cursor(cursor))
    page, next_cursor = page_of((await session.scalars(query)).all(), limit, lambda delivery: delivery.id)
    return DeliveryList(items=[_delivery_read(delivery) for delivery in page], next_cursor=next_cursor)


async def get_delivery(session: AsyncSession, cipher: PiiCipher, *, merchant_id: uuid.UUID,
                       delivery_id: uuid.UUID) -> DeliveryDetail:
    """One of the enterprise's deliveries with its attempts, or 404."""
    delivery = (await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.merchant_id == merchant_id)
    )).scalar_one_or_none()
    if delivery is None:
        raise Problem("not-found", "No such delivery")
    attempts = (await session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.at))).all()
    return DeliveryDetail(
        **_delivery_read(delivery).model_dump(), payload=sent_body(delivery.payload, cipher),
        attempt_log=[AttemptRead(at=attempt.at, status_code=attempt.status_code, error=attempt.error,
                                 duration_ms=attempt.duration_ms) for attempt in attempts])


async def redeliver(session: AsyncSession, *, merchant_id: uuid.UUID, delivery_id: uuid.UUID,
                    retry_window: timedelta) -> DeliveryRead:
    """Use case: send a delivery again now (whatever became of it), with a fresh retry window."""
    async with session.begin():
        delivery = (await session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.merchant_id == merchant_id)
            .with_for_update()
        )).scalar_one_or_none()
        if delivery is None:
            raise Problem("not-found", "No such delivery")
        disabled_at: datetime | None = await session.scalar(
            select(WebhookEndpoint.disabled_at).where(WebhookEndpoint.merchant_id == merchant_id))
        if disabled_at is not None:
            raise Problem("conflict", "The webhook is disabled; save it again (PUT /v1/merchant/webhook) first")
        now = utcnow()
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, retry_until=now + retry_window,
                    locked_until=None)
        )
        notify_after_commit(session, DELIVERIES_DUE_CHANNEL)
        await session.refresh(delivery)
        return _delivery_read(delivery)


# What a case's deliveries carried of its people (routed.v1 and accepted.v1), and what each becomes on erasure: the
# payload keeps its shape, so a redelivery still parses at the enterprise.
ERASED_PAYLOAD_FIELDS: dict[str, Any] = {
    "facts": "", "facts_sealed": None, "order_no": None, "evidence": [],
    "complainant": {"name": "", "phone_masked": ""},
}


async def erase_complaint_payloads(session: AsyncSession, complaint_id: uuid.UUID) -> int:
    """Inbox step of `personal_data_erased.v1`: empty the personal fields of every delivery about the complaint,
    delivered or not; returns how many payloads changed (none the second time)."""
    deliveries = (await session.execute(
        select(WebhookDelivery.id, WebhookDelivery.payload)
        .where(WebhookDelivery.payload["data"]["complaint_id"].astext == str(complaint_id)))).all()
    changed = 0
    for delivery_id, payload in deliveries:
        data = {name: ERASED_PAYLOAD_FIELDS.get(name, value) for name, value in payload["data"].items()}
        if data != payload["data"]:
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                  .values(payload={**payload, "data": data}))
            changed += 1
    return changed
