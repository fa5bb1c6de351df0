"""The delivery worker: claims due deliveries, POSTs them signed, records every attempt, backs off, gives up.

A delivery is claimed with a short lease (FOR UPDATE SKIP LOCKED, then `locked_until`), so several service
instances share the work and no transaction stays open across an HTTP call. Failures are retried with
exponential backoff until the delivery's retry window (24 h by default) closes; an endpoint that keeps failing
(M consecutive failures spread over at least N hours) is disabled, with a notice event.

The worker is woken by the NOTIFY sent once a transaction that owes a delivery (or asks for a redelivery) commits, and
otherwise sleeps until the earliest pending delivery falls due, at most `webhook_poll_interval` (the fallback that
also catches leases left by a crashed instance). Up to `webhook_concurrency` deliveries are in flight at a time; a
slow endpoint holds only its own slots, never a whole round, and at most `webhook_concurrency_per_endpoint` of them:
an endpoint that hangs cannot take every slot from the others. Each POST has `webhook_timeout_seconds` in all, however
slowly the receiver drips its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from opentelemetry.trace import SpanKind
from prometheus_client import Counter as PrometheusCounter
from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from merchants.settings import EVENT_SOURCE, MerchantsSettings
from merchants.webhooks.events import sent_body
from merchants.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from merchants.webhooks.service import DELIVERIES_DUE_CHANNEL, delivery_table, secret_context
from merchants.webhooks.signing import signature
from merchants.webhooks.ssrf import UnsafeTarget, check_target, parse_networks, pinned
from servicekit.contracts.merchants_v1 import WebhookDisabled
from servicekit.db import new_id, utcnow
from servicekit.events.outbox import Outbox
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.tracing import span_from

USER_AGENT = "ODR-Webhooks/1.0"
ERROR_TEXT_LIMIT = 500
JITTER = 0.1
# Floor of an idle wait: a due delivery another instance holds for a moment is not polled for in a tight loop.
MIN_IDLE_SECONDS = 0.05
CLAIM_BACKOFF_SECONDS = 0.2
# Bytes of an endpoint's answer read (and discarded) so its connection can be kept; a longer answer closes it.
DRAINED_ANSWER_LIMIT = 64 * 1024

log = get_logger("merchants.webhooks")
# A Core table, for a statement executed once per row of a batch (the ORM would not take it as such).
attempt_table: Table = WebhookAttempt.__table__  # type: ignore[assignment]
WEBHOOK_ATTEMPTS = PrometheusCounter("odr_webhook_attempts_total",
                                     "Webhook delivery attempts by what came of them", ["outcome"])


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    merchant_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    payload: dict[str, Any]
    attempts: int
    retry_until: datetime
    lease: datetime
    traceparent: str | None


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read a short answer to its end, so its connection goes back to the pool for the endpoint's next delivery
    (one left mid-answer is closed: a new TCP, and TLS, handshake each time); a long one is dropped unread."""
    read = 0
    async for chunk in response.content.iter_any():
        read += len(chunk)
        if read > DRAINED_ANSWER_LIMIT:
            return


class WebhookDispatcher:
    """Runs until cancelled; `dispatch_once` is one claim-and-deliver round (tests call it directly)."""

    def __init__(self, *, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
                 settings: MerchantsSettings, cipher: PiiCipher, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.outbox = outbox
        self.settings = settings
        self.cipher = cipher
        self.clock = clock
        self.allowed = parse_networks(settings.webhook_allowed_networks)
        self._wake = asyncio.Event()
        # Deliveries in flight per enterprise, for its share of the concurrency.
        self._busy: Counter[uuid.UUID] = Counter()
        # Recording outcomes takes database connections; at most half the pool, so a burst of finished deliveries
        # never starves the inbox consumers and the API of theirs.
        self._recording = asyncio.Semaphore(max(1, settings.database_pool_size // 2))
        # Successes waiting to be recorded together, and the task writing them (one at a time).
        self._delivered: list[tuple[Claimed, Outcome, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None

    def client(self) -> aiohttp.ClientSession:
        """The outbound client: no proxies from the environment, no cookies kept from one endpoint's answer for the
        next request (each request also refuses redirects: a redirect could lead anywhere). aiohttp, not httpx: at
        64 deliveries in flight httpx's pool spent about ten times the CPU per POST (measured in one process, client
        and receiver: 1.2 ms against 0.12 ms), a third of the merchants process at 200 filings/s."""
        return aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                                     headers={"User-Agent": USER_AGENT})

    async def run(self) -> None:
        """Deliver until cancelled: claim while there is room and something is due, else wait to be woken."""
        in_flight: set[asyncio.Task[None]] = set()
        failures = 0
        async with self.engine.connect() as listener, self.client() as http:
            try:
                await self._listen(listener)
                while True:
                    self._wake.clear()
                    room = self.settings.webhook_concurrency - len(in_flight)
                    try:
                        if room > 0:
                            wanted = min(room, self.settings.webhook_batch_size)
                            claimed, full = await self._claim(wanted, busy=self._busy)
                            for item in claimed:
                                task = asyncio.create_task(self._deliver(http, item))
                                in_flight.add(task)
                                self._busy[item.merchant_id] += 1
                                task.add_done_callback(self._delivery_done(in_flight, item.merchant_id))
                            if full:
                                continue  # more may be due
                            # A delivery in flight wakes the loop when it ends, and claiming then finds whatever
                            # fell due meanwhile: the earliest due time matters only when nothing is in flight.
                            idle = self.settings.webhook_poll_interval if in_flight else await self._seconds_until_due()
                        else:
                            idle = self.settings.webhook_poll_interval  # a finishing delivery wakes us
                        failures = 0
                    except (SQLAlchemyError, OSError) as exc:
                        # A database hiccup must not abandon the deliveries in flight (their leases would have to
                        # run out before anyone retried them): wait, and claim again.
                        failures += 1
                        idle = min(CLAIM_BACKOFF_SECONDS * 2 ** (failures - 1), self.settings.webhook_poll_interval)
                        log.warning("could not claim webhook deliveries", error=repr(exc), in_seconds=idle)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), idle)
            finally:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)
                if self._recorder is not None:
                    # Successes already POSTed are recorded, or their deliveries would be sent again.
                    await asyncio.gather(self._recorder, return_exceptions=True)
                # Closing the connection (not returning it to the pool) ends the LISTEN for sure.
                await listener.invalidate()

    async def _listen(self, connection: AsyncConnection) -> None:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(DELIVERIES_DUE_CHANNEL, self._on_notify)
        # Outside a transaction, so notifications are delivered as they come.
        await connection.commit()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _delivery_done(self, in_flight: set[asyncio.Task[None]],
                       merchant_id: uuid.UUID) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            self._busy[merchant_id] -= 1
            if self._busy[merchant_id] <= 0:
                del self._busy[merchant_id]
            self._wake.set()  # a slot is free, and a failed attempt may be due again soon
        return done

    async def _seconds_until_due(self) -> float:
        """Until the earliest pending delivery of an enabled endpoint can be claimed, within the fallback poll."""
        async with self.sessionmaker() as session:
            earliest: datetime | None = await session.scalar(
                select(func.min(func.greatest(WebhookDelivery.next_attempt_at,
                                              func.coalesce(WebhookDelivery.locked_until,
                                                            WebhookDelivery.next_attempt_at))))
                .join(WebhookEndpoint, WebhookEndpoint.merchant_id == WebhookDelivery.merchant_id)
                .where(WebhookDelivery.status == DeliveryStatus.PENDING.value, WebhookEndpoint.disabled_at.is_(None)))
        poll = self.settings.webhook_poll_interval
        if earliest is None:
            return poll
        return min(max((earliest - self.clock()).total_seconds(), MIN_IDLE_SECONDS), poll)

    async def dispatch_once(self, http: aiohttp.ClientSession) -> int:
        """Claim what is due, deliver it concurrently, record the outcomes; returns how many were attempted."""
        claimed, _ = await self._claim(self.settings.webhook_batch_size)
        await asyncio.gather(*(self._deliver(http, item) for item in claimed))
        return len(claimed)

    async def _claim(self, limit: int, busy: Mapping[uuid.UUID, int] | None = None) -> tuple[list[Claimed], bool]:
        """Lease up to `limit` due deliveries, none beyond an endpoint's share given those `busy` in flight; also
        whether the query came back full (more may be due)."""
        cap = self.settings.webhook_concurrency_per_endpoint
        taken: Counter[uuid.UUID] = Counter(busy or {})
        saturated = [merchant_id for merchant_id, count in taken.items() if count >= cap]
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 5)
        async with self.sessionmaker() as session, session.begin():
            rows = (await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.merchant_id, WebhookDelivery.payload,
                       WebhookDelivery.attempts, WebhookDelivery.retry_until, WebhookDelivery.traceparent,
                       WebhookEndpoint.url,
                       WebhookEndpoint.secret_encrypted, WebhookEndpoint.previous_secret_encrypted,
                       WebhookEndpoint.previous_secret_until)
                .join(WebhookEndpoint, WebhookEndpoint.merchant_id == WebhookDelivery.merchant_id)
                .where(WebhookDelivery.status == DeliveryStatus.PENDING.value,
                       WebhookDelivery.next_attempt_at <= now,
                       (WebhookDelivery.locked_until.is_(None)) | (WebhookDelivery.locked_until < now),
                       WebhookEndpoint.disabled_at.is_(None),
                       WebhookDelivery.merchant_id.not_in(saturated))
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )).all()
            full = len(rows) == limit
            # Beyond its share in this batch, an endpoint's rows are left unleased (their lock ends with this
            # transaction); the next claim excludes that endpoint while it is saturated.
            kept = []
            for row in rows:
                if taken[row.merchant_id] < cap:
                    taken[row.merchant_id] += 1
                    kept.append(row)
            rows = kept
            if rows:
                await session.execute(update(WebhookDelivery)
                                      .where(WebhookDelivery.id.in_([row.id for row in rows]))
                                      .values(locked_until=lease))
        return [Claimed(id=row.id, merchant_id=row.merchant_id, url=row.url, secrets=self._secrets(row, now),
                        payload=row.payload, attempts=row.attempts, retry_until=row.retry_until, lease=lease,
                        traceparent=row.traceparent)
                for row in rows], full

    def _secrets(self, row: Any, now: datetime) -> tuple[str, ...]:
        """The current secret, and the previous one while its overlap lasts."""
        context = secret_context(row.merchant_id)
        current = self.cipher.decrypt(row.secret_encrypted, context=context)
        overlap_ends = row.previous_secret_until
        if row.previous_secret_encrypted is None or overlap_ends is None or overlap_ends <= now:
            return (current,)
        return current, self.cipher.decrypt(row.previous_secret_encrypted, context=context)

    async def _deliver(self, http: aiohttp.ClientSession, item: Claimed) -> None:
        outcome = await self._post(http, item)
        try:
            if outcome.delivered:
                await self._record_delivered(item, outcome)
            else:
                async with self._recording:
                    await self._record(item, outcome)
        except Exception:
            # The lease runs out and the delivery is tried again; receivers deduplicate on webhook-id.
            log.exception("could not record a webhook attempt", delivery_id=str(item.id))

    async def _record_delivered(self, item: Claimed, outcome: Outcome) -> None:
        """Join the next batch of successes to record; returns once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._delivered.append((item, outcome, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_delivered_batches())
        await done

    async def _record_delivered_batches(self) -> None:
        """Record the successes that finished while the previous batch was being written, one transaction each."""
        while self._delivered:
            batch, self._delivered = self._delivered, []
            try:
                async with self._recording:
                    await self._record_successes([(item, outcome) for item, outcome, _ in batch])
            except Exception:
                # One bad row must not cost the others their record: each on its own, as a lone success would be.
                log.warning("recording a batch of webhook successes failed; recording them one by one",
                            deliveries=len(batch), exc_info=True)
                for item, outcome, done in batch:
                    try:
                        async with self._recording:
                            await self._record(item, outcome)
                    except Exception as exc:
                        if not done.done():  # its delivery task may have been cancelled meanwhile
                            done.set_exception(exc)
                    else:
                        if not done.done():
                            done.set_result(None)
                continue
            WEBHOOK_ATTEMPTS.labels("delivered").inc(len(batch))
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _record_successes(self, batch: list[tuple[Claimed, Outcome]]) -> None:
        """Three statements for the whole batch: the attempts, the deliveries, their endpoints' success."""
        now = self.clock()
        deliveries = delivery_table
        ours = deliveries.c.locked_until == bindparam("lease")
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(attempt_table), [
                {"id": new_id(), "delivery_id": item.id, "at": outcome.started_at, "status_code": outcome.status_code,
                 "error": None, "duration_ms": outcome.duration_ms} for item, outcome in batch])
            # As in `_record_attempt`: the outcome decides the state only while our lease holds.
            await session.execute(
                update(deliveries).where(deliveries.c.id == bindparam("delivery_id")).values(
                    attempts=deliveries.c.attempts + 1, last_attempt_at=bindparam("started_at"),
                    last_status_code=bindparam("status_code"), last_error=None,
                    status=case((ours, DeliveryStatus.DELIVERED.value), else_=deliveries.c.status),
                    delivered_at=case((ours, now), else_=deliveries.c.delivered_at),
                    locked_until=case((ours, None), else_=deliveries.c.locked_until)),
                [{"delivery_id": item.id, "lease": item.lease, "started_at": outcome.started_at,
                  "status_code": outcome.status_code} for item, outcome in batch])
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.merchant_id.in_(sorted({item.merchant_id for item, _ in batch})))
                .values(consecutive_failures=0, failing_since=None, last_success_at=now))

    async def _post(self, http: aiohttp.ClientSession, item: Claimed) -> Outcome:
        with span_from(item.traceparent, "webhook deliver", kind=SpanKind.CLIENT,
                       attributes={"odr.webhook.delivery_id": str(item.id), "odr.webhook.attempt": item.attempts + 1,
                                   "odr.merchant_id": str(item.merchant_id)}) as span:
            outcome = await self._post_once(http, item)
            span.set_attribute("odr.webhook.delivered", outcome.delivered)
            if outcome.status_code is not None:
                span.set_attribute("http.response.status_code", outcome.status_code)
            return outcome

    async def _post_once(self, http: aiohttp.ClientSession, item: Claimed) -> Outcome:
        message_id = str(item.id)
        timestamp = int(self.clock().timestamp())
        body = orjson.dumps(sent_body(item.payload, self.cipher))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            # Space-separated signatures, one per live secret (Standard Webhooks).
            "webhook-signature": " ".join(signature(secret, message_id, timestamp, body) for secret in item.secrets),
        }
        started_at = self.clock()
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            # Bounds the whole exchange: the lookup, the connection and a receiver dripping its answer.
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                # Checked again at delivery time: the name may resolve elsewhere than when it was saved.
                addresses = await check_target(item.url, self.allowed)
                url, host, server_hostname = pinned(item.url, addresses[0])
                async with http.post(url, data=body, headers={**headers, **host}, allow_redirects=False,
                                     server_hostname=server_hostname) as response:
                    status_code = response.status
                    await _drain(response)
            if not 200 <= status_code < 300:
                error = f"the endpoint answered HTTP {status_code}"
        except TimeoutError:
            error = f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except UnsafeTarget as exc:
            error = f"refused: {exc}"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
        return Outcome(started_at=started_at, status_code=status_code, error=error,
                       duration_ms=int((time.perf_counter() - started) * 1000))

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after `attempts` failures: doubling from the base, capped, jittered ±10 %."""
        base = self.settings.webhook_backoff_base_seconds * 2 ** (attempts - 1)
        capped = min(base, self.settings.webhook_backoff_max_seconds)
        return timedelta(seconds=capped * random.uniform(1 - JITTER, 1 + JITTER))

    async def _record(self, item: Claimed, outcome: Outcome) -> None:
        result = await self._record_attempt(item, outcome)
        WEBHOOK_ATTEMPTS.labels(result).inc()

    async def _record_attempt(self, item: Claimed, outcome: Outcome) -> str:
        """Record the attempt and its consequence; returns the outcome label of the metric."""
        now = self.clock()
        attempts = item.attempts + 1
        async with self.sessionmaker() as session, session.begin():
            # The attempt is dated when the POST left; recording it may come later, when the pool is busy.
            session.add(WebhookAttempt(delivery_id=item.id, at=outcome.started_at, status_code=outcome.status_code,
                                       error=outcome.error, duration_ms=outcome.duration_ms))
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == item.id).values(
                attempts=WebhookDelivery.attempts + 1, last_attempt_at=outcome.started_at,
                last_status_code=outcome.status_code,
                last_error=outcome.error))
            # The outcome decides the state only while our lease holds: a redelivery requested meanwhile stands.
            ours = update(WebhookDelivery).where(WebhookDelivery.id == item.id,
                                                 WebhookDelivery.locked_until == item.lease)
            if outcome.delivered:
                await session.execute(ours.values(status=DeliveryStatus.DELIVERED.value, delivered_at=now,
                                                  locked_until=None))
                await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.merchant_id == item.merchant_id)
                                      .values(consecutive_failures=0, failing_since=None, last_success_at=now))
                return "delivered"
            next_attempt_at = now + self.backoff(attempts)
            status = DeliveryStatus.FAILED if next_attempt_at > item.retry_until else DeliveryStatus.PENDING
            await session.execute(ours.values(status=status.value, next_attempt_at=next_attempt_at, locked_until=None))
            await self._count_failure(session, item.merchant_id, now)
        return "gave_up" if status is DeliveryStatus.FAILED else "will_retry"

    async def _count_failure(self, session: AsyncSession, merchant_id: uuid.UUID, now: datetime) -> None:
        endpoint = (await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.merchant_id == merchant_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
                    failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
            .returning(WebhookEndpoint.url, WebhookEndpoint.consecutive_failures, WebhookEndpoint.failing_since,
                       WebhookEndpoint.disabled_at)
        )).one()
        sustained = now - endpoint.failing_since >= timedelta(seconds=self.settings.webhook_disable_after_seconds)
        if (endpoint.disabled_at is not None or not sustained
                or endpoint.consecutive_failures < self.settings.webhook_disable_after_failures):
            return
        reason = (f"disabled after {endpoint.consecutive_failures} consecutive failed deliveries since "
                  f"{endpoint.failing_since.isoformat()}")
        await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.merchant_id == merchant_id)
                              .values(disabled_at=now, disabled_reason=reason))
        await self.outbox.add(session, WebhookDisabled(
            merchant_id=merchant_id, url=endpoint.url, consecutive_failures=endpoint.consecutive_failures,
            failing_since=endpoint.failing_since, disabled_at=now,
        ).envelope(source=EVENT_SOURCE))
        log.warning("webhook endpoint disabled", merchant_id=str(merchant_id), failures=endpoint.consecutive_failures)
