"""Use cases of the complaint domain; each owns exactly one transaction and never leaves it half done."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from complaints import case_numbers, idempotency
from complaints.complaint.models import Complaint, ComplaintEvent, Deadline
from complaints.complaint.schemas import (
    ComplainantRead,
    ComplaintCreate,
    ComplaintList,
    ComplaintRead,
    ComplaintSummary,
    DeadlineRead,
    PurchaseRead,
    RequestRead,
    RespondentRead,
    TimelineEntry,
)
from complaints.complaint.state import (
    DEADLINE_ON_ENTRY,
    WORKING_DAYS,
    ActorRole,
    ComplaintKind,
    ComplaintStatus,
    DeadlineState,
    transition,
)
from complaints.enrollment import service as enrollment_service
from complaints.enrollment.models import EnrollmentStatus
from servicekit.calendar import add_working_days, end_of_day, local_date
from servicekit.contracts.complaints_v1 import ComplainantForMerchant, ComplaintFiled, ComplaintRouted, RouteTarget
from servicekit.db import new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher, mask_phone
from servicekit.problems import Problem

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
event_table: Table = ComplaintEvent.__table__  # type: ignore[assignment]
deadline_table: Table = Deadline.__table__  # type: ignore[assignment]

PII_FIELDS = ("name", "phone", "address")


@dataclass(frozen=True)
class Route:
    """Where a new complaint goes: the ODR enterprise itself, or the regulator of the region."""

    status: ComplaintStatus
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    respondent_address: str | None
    respondent_uscc: str | None
    respondent_region_code: str | None

    @property
    def target(self) -> RouteTarget:
        return RouteTarget.MERCHANT if self.status is ComplaintStatus.WITH_MERCHANT else RouteTarget.REGULATOR


@dataclass(frozen=True)
class Filing:
    """Who files, with what, and where the events and ciphertexts go."""

    consumer_id: str
    body: ComplaintCreate
    idempotency_key: str | None
    cipher: PiiCipher
    outbox: Outbox
    source: str


async def file_complaint(session: AsyncSession, filing: Filing) -> idempotency.StoredResponse:
    """Store a complaint, route it, start its clock and stage filed + routed events, all in one transaction."""
    if filing.body.kind is not ComplaintKind.COMPLAINT:
        raise Problem("validation-error", "Reports are not accepted yet; file kind=complaint",
                      errors=[{"field": "body.kind", "message": "only 'complaint' is supported", "code": "enum"}])
    body_hash = idempotency.request_hash(filing.body)
    try:
        async with session.begin():
            return await _file(session, filing, body_hash)
    except IntegrityError as exc:
        # A concurrent request with the same key committed first: answer as it did.
        if filing.idempotency_key is None or "pk_idempotency_key" not in str(exc.orig):
            raise
    async with session.begin():
        stored = await idempotency.replay(session, principal_sub=filing.consumer_id, key=filing.idempotency_key,
                                          body_hash=body_hash)
    if stored is None:
        raise Problem("conflict", "A concurrent request with this Idempotency-Key did not complete")
    return _in_field_order(stored)


def _in_field_order(response: idempotency.StoredResponse) -> idempotency.StoredResponse:
    """JSONB keeps no key order; a replay should read exactly like the first answer, so re-serialise it."""
    body = ComplaintRead.model_validate(response.body).model_dump(mode="json")
    return idempotency.StoredResponse(status=response.status, body=body)


async def _file(session: AsyncSession, filing: Filing, body_hash: str) -> idempotency.StoredResponse:
    if filing.idempotency_key is not None:
        stored = await idempotency.replay(session, principal_sub=filing.consumer_id, key=filing.idempotency_key,
                                          body_hash=body_hash)
        if stored is not None:
            return _in_field_order(stored)
    body = filing.body
    route = await _route(session, body)
    now = utcnow()
    filed_on = local_date(now)
    complaint_id = new_id()
    status = transition(ComplaintStatus.SUBMITTED, route.status)
    deadline_kind = DEADLINE_ON_ENTRY[status]
    due_date = add_working_days(filed_on, WORKING_DAYS[deadline_kind])
    # Taken after the reads: the counter row stays locked until commit.
    case_no = await case_numbers.next_case_no(session, prefix=case_numbers.COMPLAINT_PREFIX,
                                              region_code=route.region_code, day=filed_on)
    complainant = body.complainant
    row: dict[str, Any] = {
        "id": complaint_id,
        "case_no": case_no,
        "kind": body.kind.value,
        "status": status.value,
        "region_code": route.region_code,
        "consumer_id": filing.consumer_id,
        "green_channel": body.green_channel,
        "complainant_name_enc": filing.cipher.encrypt(complainant.name, context=_pii_context(complaint_id, "name")),
        "complainant_phone_enc": filing.cipher.encrypt(complainant.phone, context=_pii_context(complaint_id, "phone")),
        "complainant_address_enc": (
            filing.cipher.encrypt(complainant.address, context=_pii_context(complaint_id, "address"))
            if complainant.address is not None else None
        ),
        "phone_index": filing.cipher.blind_index(complainant.phone),
        "merchant_id": route.merchant_id,
        "respondent_name": route.respondent_name,
        "respondent_address": route.respondent_address,
        "respondent_uscc": route.respondent_uscc,
        "respondent_region_code": route.respondent_region_code,
        "request_type": body.request.type.value,
        "request_amount_fen": body.request.amount_fen,
        "facts": body.facts,
        "purchase_date": body.purchase.date if body.purchase else None,
        "purchase_amount_fen": body.purchase.amount_fen if body.purchase else None,
        "purchase_order_no": body.purchase.order_no if body.purchase else None,
        "sector": body.sector,
        "category": body.category,
        "channel": body.channel.value,
        "mediation_case_id": None,
        "recovered_fen": 0,
        "filed_at": now,
        "routed_at": now,
        "accepted_at": None,
        "closed_at": None,
        "withdrawn_at": None,
        "updated_at": now,
        "version": 1,
    }
    timeline = [
        {"id": new_id(), "complaint_id": complaint_id, "at": now, "status": ComplaintStatus.SUBMITTED.value,
         "actor_role": ActorRole.CONSUMER.value, "actor_id": filing.consumer_id, "note": None,
         "details": {"channel": body.channel.value}},
        {"id": new_id(), "complaint_id": complaint_id, "at": now, "status": status.value,
         "actor_role": ActorRole.SYSTEM.value, "actor_id": None, "note": _routing_note(route),
         "details": {"target": route.target.value, "region_code": route.region_code,
                     "merchant_id": str(route.merchant_id) if route.merchant_id else None}},
    ]
    deadline = {"id": new_id(), "complaint_id": complaint_id, "kind": deadline_kind.value, "due_date": due_date,
                "state": DeadlineState.RUNNING.value, "due_at": end_of_day(due_date), "started_at": now,
                "met_at": None, "breached_at": None, "paused_at": None}
    await session.execute(complaint_table.insert().values(row))
    await session.execute(event_table.insert(), timeline)
    await session.execute(deadline_table.insert().values(deadline))
    detail = _detail(row, _complainant_of(row, filing.cipher), [deadline], timeline)
    response = idempotency.StoredResponse(status=201, body=detail.model_dump(mode="json"))
    if filing.idempotency_key is not None:
        await idempotency.remember(session, principal_sub=filing.consumer_id, key=filing.idempotency_key,
                                   body_hash=body_hash, status=response.status, body=response.body, at=now)
    await filing.outbox.add(session, *_events(row, route, complainant.name, complainant.phone, due_date, filing))
    return response


async def _route(session: AsyncSession, body: ComplaintCreate) -> Route:
    """Green channel to an active ODR enterprise goes to it; everything else to the regulator of its region."""
    respondent = body.respondent
    merchant = None
    if respondent.merchant_id is not None:
        merchant = await enrollment_service.get(session, merchant_id=respondent.merchant_id)
    if merchant is not None:
        goes_to_merchant = body.green_channel and merchant.status == EnrollmentStatus.ACTIVE.value
        return Route(
            status=ComplaintStatus.WITH_MERCHANT if goes_to_merchant else ComplaintStatus.PENDING_ACCEPTANCE,
            region_code=merchant.region_code,
            merchant_id=merchant.merchant_id,
            respondent_name=merchant.name,
            respondent_address=respondent.address,
            respondent_uscc=merchant.uscc,
            respondent_region_code=merchant.region_code,
        )
    if respondent.name is None or respondent.region_code is None:
        raise Problem("validation-error", "The merchant is not an ODR enterprise we know of",
                      errors=[{"field": "body.respondent.merchant_id",
                               "message": "unknown merchant; give name and region_code of the business instead",
                               "code": "unknown_merchant"}])
    return Route(
        status=ComplaintStatus.PENDING_ACCEPTANCE,
        region_code=respondent.region_code,
        merchant_id=None,
        respondent_name=respondent.name,
        respondent_address=respondent.address,
        respondent_uscc=respondent.uscc,
        respondent_region_code=respondent.region_code,
    )


def _routing_note(route: Route) -> str:
    if route.target is RouteTarget.MERCHANT:
        return f"Sent to the ODR enterprise {route.respondent_name} for negotiation"
    return f"Sent to the market regulator of region {route.region_code} for acceptance review"


def _events(row: Mapping[Any, Any], route: Route, name: str, phone: str, due_date: date,
            filing: Filing) -> list[EventEnvelope]:
    filed = ComplaintFiled(
        complaint_id=row["id"], case_no=row["case_no"], kind=row["kind"], region_code=row["region_code"],
        merchant_id=row["merchant_id"], respondent_name=row["respondent_name"], sector=row["sector"],
        category=row["category"], channel=row["channel"], request_type=row["request_type"],
        request_amount_fen=row["request_amount_fen"], green_channel=row["green_channel"], filed_at=row["filed_at"],
    )
    routed = ComplaintRouted(
        complaint_id=row["id"], case_no=row["case_no"], target=route.target, merchant_id=row["merchant_id"],
        region_code=row["region_code"], consumer_id=row["consumer_id"],
        complainant=ComplainantForMerchant(name=name, phone_masked=mask_phone(phone)),
        request_type=row["request_type"], request_amount_fen=row["request_amount_fen"], facts=row["facts"],
        due_date=due_date, routed_at=row["routed_at"],
    )
    return [filed.envelope(source=filing.source), routed.envelope(source=filing.source)]


def _pii_context(complaint_id: uuid.UUID, field: str) -> str:
    return f"complaint:{complaint_id}:{field}"


def _complainant_of(row: Mapping[Any, Any], cipher: PiiCipher) -> ComplainantRead:
    address = row["complainant_address_enc"]
    return ComplainantRead(
        name=cipher.decrypt(row["complainant_name_enc"], context=_pii_context(row["id"], "name")),
        phone=cipher.decrypt(row["complainant_phone_enc"], context=_pii_context(row["id"], "phone")),
        address=cipher.decrypt(address, context=_pii_context(row["id"], "address")) if address else None,
    )


def _detail(row: Mapping[Any, Any], complainant: ComplainantRead, deadlines: Sequence[Mapping[Any, Any]],
            timeline: Sequence[Mapping[Any, Any]]) -> ComplaintRead:
    return ComplaintRead(
        id=row["id"], case_no=row["case_no"], kind=row["kind"], status=row["status"],
        mediation_case_id=row["mediation_case_id"], recovered_fen=row["recovered_fen"],
        region_code=row["region_code"], green_channel=row["green_channel"], complainant=complainant,
        respondent=RespondentRead(merchant_id=row["merchant_id"], name=row["respondent_name"],
                                  address=row["respondent_address"], uscc=row["respondent_uscc"],
                                  region_code=row["respondent_region_code"]),
        request=RequestRead(type=row["request_type"], amount_fen=row["request_amount_fen"]),
        purchase=(PurchaseRead(date=row["purchase_date"], amount_fen=row["purchase_amount_fen"],
                               order_no=row["purchase_order_no"]) if row["purchase_date"] else None),
        facts=row["facts"], sector=row["sector"], category=row["category"], channel=row["channel"],
        deadlines=[DeadlineRead(kind=d["kind"], due_date=d["due_date"], state=d["state"], due_at=d["due_at"])
                   for d in deadlines],
        timeline=[TimelineEntry(at=e["at"], status=e["status"], actor_role=e["actor_role"], note=e["note"])
                  for e in timeline],
        filed_at=row["filed_at"], routed_at=row["routed_at"], closed_at=row["closed_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class Versioned:
    """A complaint detail and the version its ETag is made of."""

    detail: ComplaintRead
    version: int


async def get_for_consumer(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str,
                           cipher: PiiCipher) -> Versioned:
    """The complaint if this consumer filed it; 404 otherwise, so ids of others' cases reveal nothing."""
    row = (await session.execute(
        select(complaint_table).where(complaint_table.c.id == complaint_id,
                                      complaint_table.c.consumer_id == consumer_id)
    )).mappings().one_or_none()
    if row is None:
        raise Problem("not-found", "No such complaint")
    deadlines = (await session.execute(
        select(deadline_table).where(deadline_table.c.complaint_id == complaint_id)
        .order_by(deadline_table.c.started_at, deadline_table.c.id)
    )).mappings().all()
    timeline = (await session.execute(
        select(event_table).where(event_table.c.complaint_id == complaint_id)
        .order_by(event_table.c.at, event_table.c.id)
    )).mappings().all()
    return Versioned(detail=_detail(row, _complainant_of(row, cipher), deadlines, timeline), version=row["version"])


async def version_of(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str) -> int | None:
    """Just the version of the consumer's complaint, to answer a conditional GET without building the body."""
    return (await session.execute(
        select(complaint_table.c.version).where(complaint_table.c.id == complaint_id,
                                                complaint_table.c.consumer_id == consumer_id)
    )).scalar_one_or_none()


async def list_complaints(session: AsyncSession, *, conditions: Sequence[ColumnElement[bool]], cursor: str | None,
                          limit: int) -> ComplaintList:
    """Newest first (ids are UUIDv7, so id order is filing order); the cursor is the last id seen."""
    statement = select(complaint_table).where(*conditions)
    if cursor is not None:
        statement = statement.where(complaint_table.c.id < decode_cursor(cursor))
    rows = (await session.execute(
        statement.order_by(complaint_table.c.id.desc()).limit(limit + 1)
    )).mappings().all()
    page = rows[:limit]
    items = [ComplaintSummary.model_validate(dict(row)) for row in page]
    next_cursor = encode_cursor(page[-1]["id"]) if len(rows) > limit else None
    return ComplaintList(items=items, next_cursor=next_cursor)


def consumer_conditions(consumer_id: str) -> list[ColumnElement[bool]]:
    """A consumer lists only what they filed."""
    return [complaint_table.c.consumer_id == consumer_id]


def regulator_conditions(*, region_prefix: str, status: ComplaintStatus | None,
                         kind: ComplaintKind | None) -> list[ColumnElement[bool]]:
    """A regulator lists its region and those below it, optionally by status and kind."""
    conditions: list[ColumnElement[bool]] = [complaint_table.c.region_code.startswith(region_prefix, autoescape=True)]
    if status is not None:
        conditions.append(complaint_table.c.status == status.value)
    if kind is not None:
        conditions.append(complaint_table.c.kind == kind.value)
    return conditions


def encode_cursor(last_id: uuid.UUID) -> str:
    """An opaque page cursor: the last id of the page, base64url."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """The id inside a cursor; 422 for anything this service did not give out."""
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise Problem("validation-error", "The cursor is not one this service gave out",
                      errors=[{"field": "query.cursor", "message": "invalid cursor", "code": "value_error"}]) from exc
