"""Queueing and sending text messages.

A message is queued in the transaction of the change it reports (`NotifyingOutbox` does it for the complaint events
that deserve one; the mediation consumer for offers, in its inbox transaction) or of the sign-in code request, so a
message exists if and only if its cause committed, and `dedup_key` keeps a cause from queueing two. The dispatcher
takes one due message at a time (`FOR UPDATE SKIP LOCKED`, held while the provider is called), so replicas never
send the same message; it can only go out twice if the process dies after the provider accepted it and before the
commit that records it, and then the provider's receipts name it by `OutId` (the message id).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Row, Table, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from complaints.complaint.enums import ComplaintStatus
from complaints.complaint.models import Complaint
from complaints.deadline.enums import DeadlineKind, DeadlineState
from complaints.deadline.models import Deadline
from complaints.notifications.models import SmsOutbox
from complaints.notifications.state import SmsStatus, can_become
from complaints.settings import ComplaintsSettings, SmsBackend
from servicekit.calendar import local_date
from servicekit.db import new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.sms import (
    AliyunSmsSender,
    DevSmsSender,
    SmsMessage,
    SmsRejected,
    SmsRetryable,
    SmsSender,
    SmsTemplate,
    render,
)

CODE_LIFETIME = timedelta(minutes=5)
DECISIONS = {"complaints.complaint.accepted.v1": "受理", "complaints.complaint.refused.v1": "不予受理"}
OUTCOMES = {ComplaintStatus.CLOSED_SETTLED.value: "已和解", ComplaintStatus.CLOSED_TERMINATED.value: "调解终止"}

log = get_logger("complaints.notifications")


def sender_from_settings(settings: ComplaintsSettings, client: httpx.AsyncClient) -> SmsSender:
    if settings.sms_sender == SmsBackend.ALIYUN:
        return AliyunSmsSender(client, access_key_id=settings.sms_aliyun_access_key_id,
                               access_key_secret=settings.sms_aliyun_access_key_secret.get_secret_value(),
                               sign_name=settings.sms_aliyun_sign_name,
                               template_codes=settings.sms_aliyun_template_codes,
                               endpoint=settings.sms_aliyun_endpoint)
    return DevSmsSender()


def _phone_context(message_id: uuid.UUID) -> str:
    return f"sms:{message_id}:phone"


def _params_context(message_id: uuid.UUID) -> str:
    return f"sms:{message_id}:params"


# Built once and given its values as parameters: a filing that owes a message enqueues it on the hot path.
_ENQUEUE = insert(SmsOutbox).on_conflict_do_nothing(index_elements=["dedup_key"])


async def enqueue(db: AsyncSession | AsyncConnection, cipher: PiiCipher, *, template: SmsTemplate,
                  params: dict[str, str], complaint_id: uuid.UUID | None = None, phone: str | None = None,
                  address: str | None = None, dedup_key: str | None = None,
                  expires_at: datetime | None = None) -> None:
    """Stage a message in the caller's transaction (a cause already queued is skipped); never commits."""
    await db.execute(_ENQUEUE, message_row(cipher, template=template, params=params, complaint_id=complaint_id,
                                           phone=phone, address=address, dedup_key=dedup_key, expires_at=expires_at))


def message_row(cipher: PiiCipher, *, template: SmsTemplate, params: dict[str, str],
                complaint_id: uuid.UUID | None = None, phone: str | None = None, address: str | None = None,
                dedup_key: str | None = None, expires_at: datetime | None = None) -> dict[str, Any]:
    """The `sms_outbox` row of a message, its phone number and parameters sealed; the columns with defaults left
    out."""
    message_id = new_id()
    values: dict[str, Any] = {
        "id": message_id, "template": template.value, "complaint_id": complaint_id, "dedup_key": dedup_key,
        "params_enc": cipher.encrypt(json.dumps(params, ensure_ascii=False), context=_params_context(message_id)),
        "expires_at": expires_at,
    }
    if phone is not None:
        values["phone_enc"] = cipher.encrypt(phone, context=_phone_context(message_id))
        values["phone_index"] = cipher.blind_index(phone)
    if address is not None:
        values["address_index"] = cipher.blind_index(f"address:{address}")
    return values


def notification_for(event: EventEnvelope) -> tuple[SmsTemplate, dict[str, str]] | None:
    """The message a complaint event owes the complainant, if any. The case number is read when it is sent: a filing
    stages its events before it takes its number."""
    data = event.data
    if event.type == "complaints.complaint.routed.v1" and data.get("target") == "merchant":
        return SmsTemplate.ROUTED_TO_ENTERPRISE, {}
    if event.type in DECISIONS:
        return SmsTemplate.DECISION_TAKEN, {"decision": DECISIONS[event.type]}
    # A refusal already had its decision message; a withdrawal was the consumer's own act.
    if event.type == "complaints.complaint.closed.v1" and data.get("status") in OUTCOMES:
        return SmsTemplate.CASE_CLOSED, {"outcome": OUTCOMES[data["status"]]}
    return None


class NotifyingOutbox(Outbox):
    """The complaints outbox: staging an event that owes the complainant a message queues it in the same
    transaction."""

    message_table: Table = SmsOutbox.__table__  # type: ignore[assignment]
    # The columns `message_row` fills; the others keep their defaults.
    message_columns = ("id", "template", "complaint_id", "dedup_key", "params_enc", "expires_at", "phone_enc",
                       "phone_index", "address_index")

    def __init__(self, table: Any, service_name: str, cipher: PiiCipher) -> None:
        super().__init__(table, service_name)
        self.cipher = cipher

    async def add(self, session: AsyncSession, *events: EventEnvelope) -> None:
        await super().add(session, *events)
        for message in self.messages(*events):
            await session.execute(_ENQUEUE, message)

    def messages(self, *events: EventEnvelope) -> list[dict[str, Any]]:
        """The `sms_outbox` rows the events owe the complainant (`add` stages them; a filing writes them in its own
        statement)."""
        rows = []
        for event in events:
            owed = notification_for(event)
            if owed is not None:
                template, params = owed
                rows.append(message_row(self.cipher, template=template, params=params,
                                        complaint_id=uuid.UUID(event.subject), dedup_key=f"event:{event.id}"))
        return rows


@dataclass(frozen=True)
class CodeLimits:
    interval: timedelta
    per_phone_hour: int
    per_phone_day: int
    per_address_hour: int

    @classmethod
    def of(cls, settings: ComplaintsSettings) -> CodeLimits:
        return cls(interval=timedelta(seconds=settings.sms_code_interval_seconds),
                   per_phone_hour=settings.sms_codes_per_phone_per_hour,
                   per_phone_day=settings.sms_codes_per_phone_per_day,
                   per_address_hour=settings.sms_codes_per_address_per_hour)


async def _sent_since(session: AsyncSession, column: Any, value: bytes, since: datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(SmsOutbox)
        .where(column == value, SmsOutbox.template == SmsTemplate.SIGN_IN_CODE.value, SmsOutbox.created_at >= since)
    ) or 0)


async def queue_sign_in_code(session: AsyncSession, cipher: PiiCipher, *, phone: str, code: str, address: str,
                             limits: CodeLimits) -> None:
    """Use case: queue the gateway's sign-in code, within the per-phone and per-address limits (else 429)."""
    phone_index = cipher.blind_index(phone)
    address_index = cipher.blind_index(f"address:{address}")
    async with session.begin():
        # Requests for one number take turns, so two at once cannot both slip under a limit.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                              {"key": "sms:" + phone_index.hex()})
        now = utcnow()
        hour, day = now - timedelta(hours=1), now - timedelta(days=1)
        checks = [
            (SmsOutbox.phone_index, phone_index, now - limits.interval, 1, limits.interval),
            (SmsOutbox.phone_index, phone_index, hour, limits.per_phone_hour, timedelta(hours=1)),
            (SmsOutbox.phone_index, phone_index, day, limits.per_phone_day, timedelta(days=1)),
            (SmsOutbox.address_index, address_index, hour, limits.per_address_hour, timedelta(hours=1)),
        ]
        for column, value, since, allowed, period in checks:
            if period > timedelta(0) and await _sent_since(session, column, value, since) >= allowed:
                raise Problem("rate-limited", "Too many sign-in codes for this number or address",
                              headers={"Retry-After": str(int(period.total_seconds()))})
        await enqueue(session, cipher, template=SmsTemplate.SIGN_IN_CODE, params={"code": code}, phone=phone,
                      address=address, expires_at=now + CODE_LIFETIME)


async def queue_deadline_notices(session: AsyncSession, cipher: PiiCipher, *, now: datetime, days_before: int) -> int:
    """Use case: one message per running negotiation clock that ends within `days_before` local days (again if it is
    extended to a later day); returns how many clocks were looked at."""
    today = local_date(now)
    async with session.begin():
        due = (await session.execute(
            select(Deadline.id, Deadline.complaint_id, Deadline.due_date)
            .join(Complaint, Complaint.id == Deadline.complaint_id)
            .where(Deadline.kind == DeadlineKind.MERCHANT_NEGOTIATION.value,
                   Deadline.state == DeadlineState.RUNNING.value,
                   Deadline.due_date >= today, Deadline.due_date <= today + timedelta(days=days_before),
                   Complaint.status == ComplaintStatus.WITH_MERCHANT.value,
                   Complaint.complainant_phone_enc.is_not(None))
        )).all()
        for deadline_id, complaint_id, due_date in due:
            await enqueue(session, cipher, template=SmsTemplate.DEADLINE_APPROACHING,
                          params={"due_date": f"{due_date.month}月{due_date.day}日"}, complaint_id=complaint_id,
                          dedup_key=f"deadline:{deadline_id}:{due_date.isoformat()}")
    return len(due)


@dataclass(frozen=True)
class Backoff:
    base: timedelta
    ceiling: timedelta
    max_attempts: int

    @classmethod
    def of(cls, settings: ComplaintsSettings) -> Backoff:
        return cls(base=timedelta(seconds=settings.sms_backoff_base_seconds),
                   ceiling=timedelta(seconds=settings.sms_backoff_max_seconds), max_attempts=settings.sms_max_attempts)

    def after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: doubling from `base`, at most `ceiling`."""
        doubled: timedelta = self.base * (2 ** (attempts - 1))
        return min(doubled, self.ceiling)


# A case's id, number and sealed complainant phone.
CaseRecipient = Row[uuid.UUID, str, bytes | None]


def _message(cipher: PiiCipher, row: SmsOutbox, case: CaseRecipient | None) -> SmsMessage | None:
    """The text of `row`; a message about a case goes to its complainant's phone (`case`: the case's number and
    sealed phone) and names its number as it is when sent."""
    params: dict[str, str] = json.loads(cipher.decrypt(row.params_enc, context=_params_context(row.id)))
    if row.phone_enc is not None:
        phone = cipher.decrypt(row.phone_enc, context=_phone_context(row.id))
    else:
        if case is None or case.complainant_phone_enc is None:
            return None
        phone = cipher.decrypt(case.complainant_phone_enc, context=f"complaint:{row.complaint_id}:phone")
        params = {**params, "case_no": case.case_no}
    return SmsMessage(phone=phone, template=SmsTemplate(row.template), params=params, out_id=row.id.hex)


async def _cases_of(session: AsyncSession, rows: Sequence[SmsOutbox]) -> dict[uuid.UUID, CaseRecipient]:
    """The number and sealed phone of every case the messages without a phone of their own are about, by id."""
    case_ids = {row.complaint_id for row in rows if row.phone_enc is None and row.complaint_id is not None}
    if not case_ids:
        return {}
    return {case.id: case for case in (await session.execute(
        select(Complaint.id, Complaint.case_no, Complaint.complainant_phone_enc).where(Complaint.id.in_(case_ids))
    )).all()}


def _move(row: SmsOutbox, target: SmsStatus) -> None:
    if not can_become(SmsStatus(row.status), target):
        raise RuntimeError(f"a {row.status} message cannot become {target}")
    row.status = target.value


# Messages claimed and sent per transaction: a filing routed to an enterprise owes one, so under load they come
# in numbers, and one transaction (claim, case lookup, updates, commit) per message cost more than the sending.
DISPATCH_BATCH = 20


async def dispatch_due(session: AsyncSession, cipher: PiiCipher, sender: SmsSender, *, backoff: Backoff,
                       limit: int = DISPATCH_BATCH) -> int:
    """Use case: send up to `limit` due messages, earliest due first, recording each one's outcome; returns how
    many were handled (0: none is due). One transaction claims them (SKIP LOCKED: replicas take other ones) and
    records every outcome; an error no sender declares counts as a retryable failure of that message only, so a
    message sent earlier in the batch is never sent twice."""
    async with session.begin():
        due = (await session.execute(
            select(SmsOutbox).where(SmsOutbox.status == SmsStatus.PENDING.value, SmsOutbox.next_attempt_at <= utcnow())
            .order_by(SmsOutbox.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
        )).scalars().all()
        if not due:
            return 0
        cases = await _cases_of(session, due)
        now = utcnow()
        for row in due:
            expired = row.expires_at is not None and row.expires_at <= now
            message = None if expired else _message(cipher, row,
                                                    cases.get(row.complaint_id) if row.complaint_id else None)
            if message is None:
                _move(row, SmsStatus.FAILED)
                row.last_error = "expired" if expired else "no_recipient"
                continue
            await _send(row, message, sender, backoff=backoff, now=now)
        return len(due)


async def _send(row: SmsOutbox, message: SmsMessage, sender: SmsSender, *, backoff: Backoff, now: datetime) -> None:
    row.attempts += 1
    row.provider = sender.name
    try:
        row.provider_message_id = (await sender.send(message))[:64]
    except SmsRejected as exc:
        _move(row, SmsStatus.FAILED)
        row.last_error = exc.code[:120]
        log.warning("text message rejected by the provider", message_id=str(row.id), error=exc.code)
        return
    # Any other error too (see dispatch_due): the batch's other outcomes must still be recorded.
    except Exception as exc:
        code = exc.code if isinstance(exc, SmsRetryable) else f"error:{type(exc).__name__}"
        if not isinstance(exc, SmsRetryable):
            log.exception("text message sender failed unexpectedly", message_id=str(row.id))
        row.last_error = code[:120]
        if row.attempts >= backoff.max_attempts:
            _move(row, SmsStatus.FAILED)
            log.warning("text message given up after retries", message_id=str(row.id), error=code)
        else:
            _move(row, SmsStatus.PENDING)
            row.next_attempt_at = now + backoff.after(row.attempts)
        return
    _move(row, SmsStatus.SENT)
    row.sent_at = utcnow()
    row.last_error = None


PRUNE_BATCH = 1000
# The limits count the last day of sign-in codes, so no row younger than that is pruned.
LIMIT_WINDOW = timedelta(days=1)


async def prune_settled(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete up to a batch of sent or failed messages queued before `older_than` (a pruning step of the retention
    job, in its transaction): an encrypted copy of a code or a notification serves nobody once it is out."""
    doomed = (select(SmsOutbox.id)
              .where(SmsOutbox.status != SmsStatus.PENDING.value,
                     SmsOutbox.created_at < min(older_than, utcnow() - LIMIT_WINDOW))
              .limit(PRUNE_BATCH).with_for_update(skip_locked=True).scalar_subquery())
    result = await session.execute(delete(SmsOutbox).where(SmsOutbox.id.in_(doomed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoggedMessage:
    id: uuid.UUID
    created_at: datetime
    status: str
    phone: str
    text: str


async def recent_messages(session: AsyncSession, cipher: PiiCipher, *, limit: int) -> list[LoggedMessage]:
    """The latest messages as their recipients read them (the development sender's record), newest first."""
    rows = (await session.execute(
        select(SmsOutbox).order_by(SmsOutbox.created_at.desc()).limit(limit))).scalars().all()
    cases = await _cases_of(session, rows)
    logged = []
    for row in rows:
        message = _message(cipher, row, cases.get(row.complaint_id) if row.complaint_id else None)
        if message is not None:
            logged.append(LoggedMessage(id=row.id, created_at=row.created_at, status=row.status, phone=message.phone,
                                        text=render(message.template, message.params)))
    return logged


@dataclass(frozen=True)
class CaseTextMessage:
    complaint_id: uuid.UUID
    created_at: datetime
    sent_at: datetime | None
    status: str
    template: str
    text: str


async def messages_of_cases(session: AsyncSession, cipher: PiiCipher,
                            complaint_ids: Sequence[uuid.UUID]) -> list[CaseTextMessage]:
    """The text messages about these cases, as their recipient read them, oldest first (a data export)."""
    rows = (await session.execute(select(SmsOutbox).where(SmsOutbox.complaint_id.in_(complaint_ids))
                                  .order_by(SmsOutbox.created_at, SmsOutbox.id))).scalars().all()
    cases = await _cases_of(session, rows)
    found = []
    for row in rows:
        message = _message(cipher, row, cases.get(row.complaint_id) if row.complaint_id else None)
        if message is not None and row.complaint_id is not None:
            found.append(CaseTextMessage(complaint_id=row.complaint_id, created_at=row.created_at,
                                         sent_at=row.sent_at, status=row.status, template=row.template,
                                         text=render(message.template, message.params)))
    return found


async def erase_of_case(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Delete a case's text messages, sent or not, in the caller's transaction: a message owed to a person whose
    data is erased has no one to go to."""
    await session.execute(delete(SmsOutbox).where(SmsOutbox.complaint_id == complaint_id))
