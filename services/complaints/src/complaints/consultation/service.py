"""Use cases of the consultation (咨询) track; each owns one transaction.

Order 121 does not govern consultations (Art. 44), so no statute sets their period: the bureau answers within its own
working-day clock, `consultation_answer_working_days` (default 7, the period the bureau has for its first answer on a
complaint, Art. 15), counted like every other clock (Art. 45 through servicekit.calendar: the day asked is not
counted, a period ending on a holiday ends on the next working day). A clock that runs out unanswered is breached by
`sweep_breaches`; a later answer is recorded and the clock stays breached.

No event leaves the service: no other service and no enterprise webhook has any business with a consultation (it
names no enterprise), and the figures are kept in this service's own statistics.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints import idempotency
from complaints.complaint import case_numbers
from complaints.complaint import service as complaint_service
from complaints.complaint.enums import ActorRole, Channel, ComplaintKind
from complaints.complaint.schemas import ComplaintCreate
from complaints.complaint.state import Actor
from complaints.consultation.models import ClockState, Consultation, ConsultationEvent, ConsultationStatus
from complaints.consultation.schemas import (
    AnswerIn,
    Asker,
    AskerRead,
    ClockRead,
    ComplaintFromConsultation,
    ConsultationEventRead,
    ConsultationList,
    ConsultationRead,
    ConsultationSummary,
)
from complaints.deadline.service import NegotiationPeriods
from complaints.publisher import Publisher
from servicekit import regions
from servicekit.auth import Principal
from servicekit.calendar import add_working_days, end_of_day, local_date
from servicekit.db import new_id, utcnow
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

consultation_table: Table = Consultation.__table__  # type: ignore[assignment]
event_table: Table = ConsultationEvent.__table__  # type: ignore[assignment]

# The default answer period in working days (a setting: ComplaintsSettings.consultation_answer_working_days).
ANSWER_WORKING_DAYS = 7


@dataclass(frozen=True)
class Asking:
    """Who asks what, through which channel, and (staff filings) for whom."""

    consumer_id: str
    question: str
    sector: str
    region_code: str
    channel: Channel
    filer: Actor
    working_days: int
    idempotency_key: str | None = None
    body_hash: str | None = None
    asker: Asker | None = None
    station_id: uuid.UUID | None = None


def _pii_context(consultation_id: uuid.UUID, field: str) -> str:
    return f"consultation:{consultation_id}:{field}"


def _event(consultation_id: uuid.UUID, at: datetime, status: ConsultationStatus, actor: Actor, note: str | None,
           details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": new_id(), "consultation_id": consultation_id, "at": at, "status": status.value,
            "actor_role": actor.role.value, "actor_id": actor.id, "note": note, "details": details}


async def file(session: AsyncSession, asking: Asking, cipher: PiiCipher) -> idempotency.StoredResponse:
    """Record a consultation and start its answer clock: one transaction; a retry with the same Idempotency-Key
    and body answers as the first request did."""
    try:
        async with session.begin():
            return await _file(session, asking, cipher)
    except IntegrityError as exc:
        if asking.idempotency_key is None or "pk_idempotency_key" not in str(exc.orig):
            raise
    async with session.begin():
        stored = await _replay(session, asking, cipher)
    if stored is None:
        raise Problem("conflict", "A concurrent request with this Idempotency-Key did not complete")
    return stored


async def _replay(session: AsyncSession, asking: Asking, cipher: PiiCipher) -> idempotency.StoredResponse | None:
    if asking.idempotency_key is None or asking.body_hash is None:
        return None
    stored = await idempotency.replay(session, cipher, principal_sub=asking.consumer_id, key=asking.idempotency_key,
                                      body_hash=asking.body_hash)
    if stored is None:
        return None
    body = ConsultationRead.model_validate(stored.body).model_dump(mode="json")
    return idempotency.StoredResponse(status=stored.status, body=body)


async def _file(session: AsyncSession, asking: Asking, cipher: PiiCipher) -> idempotency.StoredResponse:
    stored = await _replay(session, asking, cipher)
    if stored is not None:
        return stored
    now = utcnow()
    consultation_id = new_id()
    due_date = add_working_days(local_date(now), asking.working_days)

    def sealed(field: str, value: str | None) -> bytes | None:
        return cipher.encrypt(value, context=_pii_context(consultation_id, field)) if value is not None else None

    row: dict[str, Any] = {
        "id": consultation_id, "case_no": case_numbers.provisional(consultation_id),
        "status": ConsultationStatus.OPEN.value, "region_code": asking.region_code, "consumer_id": asking.consumer_id,
        "asker_name_enc": sealed("name", asking.asker.name if asking.asker else None),
        "asker_phone_enc": sealed("phone", asking.asker.phone if asking.asker else None),
        "question_enc": sealed("question", asking.question), "sector": asking.sector, "channel": asking.channel.value,
        "station_id": asking.station_id, "filed_by_role": asking.filer.role.value, "filed_by": asking.filer.id,
        "filed_at": now, "due_date": due_date, "due_at": end_of_day(due_date),
        "clock_state": ClockState.RUNNING.value, "breached_at": None, "answer_enc": None, "answered_at": None,
        "answered_by": None, "complaint_id": None, "updated_at": now, "version": 1,
    }
    details: dict[str, Any] = {"channel": asking.channel.value}
    if asking.station_id is not None:
        details["station_id"] = str(asking.station_id)
    timeline = [_event(consultation_id, now, ConsultationStatus.OPEN, asking.filer, None, details)]
    await session.execute(consultation_table.insert().values(row))
    await session.execute(event_table.insert(), timeline)
    detail = _detail(row, timeline, cipher, working_days=asking.working_days, with_asker=False)
    response = idempotency.StoredResponse(status=201, body=detail.model_dump(mode="json"))
    answer_key = None
    if asking.idempotency_key is not None and asking.body_hash is not None:
        await idempotency.remember(session, cipher, principal_sub=asking.consumer_id, key=asking.idempotency_key,
                                   body_hash=asking.body_hash, status=201, body=response.body, at=now)
        answer_key = (asking.consumer_id, asking.idempotency_key)
    # Last, so the counter row is locked for one statement and the commit (see case_numbers).
    response.body["case_no"] = await case_numbers.take_number(
        session, case_id=consultation_id, prefix=case_numbers.CONSULTATION_PREFIX, region_code=asking.region_code,
        day=local_date(now), event_ids=[], answer_key=answer_key, case_table=consultation_table)
    return response


def _working_days(row: Mapping[Any, Any]) -> int:
    """The period the clock was started with, read back from its dates (it is never extended)."""
    day, count = local_date(row["filed_at"]), 0
    while day < row["due_date"]:
        day = add_working_days(day, 1)
        count += 1
    return count


def _opened(row: Mapping[Any, Any], cipher: PiiCipher, field: str) -> str | None:
    sealed: bytes | None = row[f"{field}_enc"]
    return cipher.decrypt(sealed, context=_pii_context(row["id"], field)) if sealed is not None else None


def _question_of(row: Mapping[Any, Any], cipher: PiiCipher) -> str:
    return cipher.decrypt(row["question_enc"], context=_pii_context(row["id"], "question"))


def _detail(row: Mapping[Any, Any], timeline: Sequence[Mapping[Any, Any]], cipher: PiiCipher, *,
            working_days: int | None = None, with_asker: bool) -> ConsultationRead:
    asker = None
    if with_asker and row["asker_phone_enc"] is not None:
        asker = AskerRead(
            name=cipher.decrypt(row["asker_name_enc"], context=_pii_context(row["id"], "name")),
            phone=cipher.decrypt(row["asker_phone_enc"], context=_pii_context(row["id"], "phone")))
    return ConsultationRead(
        id=row["id"], case_no=row["case_no"], status=row["status"], region_code=row["region_code"],
        sector=row["sector"], channel=row["channel"], question=_question_of(row, cipher),
        answer=_opened(row, cipher, "answer"),
        answered_at=row["answered_at"], filed_at=row["filed_at"],
        clock=ClockRead(working_days=working_days if working_days is not None else _working_days(row),
                        due_date=row["due_date"], state=row["clock_state"], breached_at=row["breached_at"]),
        complaint_id=row["complaint_id"], asker=asker,
        timeline=[ConsultationEventRead(at=entry["at"], status=entry["status"], actor_role=entry["actor_role"],
                                        note=entry["note"]) for entry in timeline],
    )


async def _timeline(session: AsyncSession, consultation_id: uuid.UUID) -> Sequence[RowMapping]:
    return (await session.execute(
        select(event_table).where(event_table.c.consultation_id == consultation_id)
        .order_by(event_table.c.at, event_table.c.id))).mappings().all()


async def get_for_consumer(session: AsyncSession, *, consultation_id: uuid.UUID, consumer_id: str,
                           cipher: PiiCipher) -> ConsultationRead:
    """The consumer's own consultation; 404 for anyone else's."""
    c = consultation_table.c
    row = (await session.execute(select(consultation_table).where(
        c.id == consultation_id, c.consumer_id == consumer_id))).mappings().first()
    if row is None:
        raise Problem("not-found", "No such consultation")
    return _detail(row, await _timeline(session, consultation_id), cipher, with_asker=False)


async def get_for_regulator(session: AsyncSession, *, consultation_id: uuid.UUID, principal: Principal,
                            cipher: PiiCipher) -> ConsultationRead:
    """A consultation of a region the regulator governs, with the asker a staff filing recorded; 404 elsewhere."""
    row = (await session.execute(select(consultation_table).where(
        consultation_table.c.id == consultation_id))).mappings().first()
    if row is None or not principal.governs(row["region_code"]):
        raise Problem("not-found", "No such consultation in the regions you govern")
    return _detail(row, await _timeline(session, consultation_id), cipher, with_asker=True)


async def list_consultations(session: AsyncSession, *, conditions: Sequence[ColumnElement[bool]],
                             cursor: str | None, limit: int) -> ConsultationList:
    """Newest first, a page at a time (the cursor is the last id of the previous page)."""
    c = consultation_table.c
    statement = select(c.id, c.case_no, c.status, c.region_code, c.sector, c.channel, c.filed_at, c.due_date,
                       c.clock_state, c.complaint_id).where(*conditions)
    if cursor is not None:
        statement = statement.where(c.id < decode_cursor(cursor))
    rows = (await session.execute(statement.order_by(c.id.desc()).limit(limit + 1))).mappings().all()
    page, next_cursor = page_of(rows, limit, lambda row: row["id"])
    items = [ConsultationSummary.model_validate(dict(row)) for row in page]
    return ConsultationList(items=items, next_cursor=next_cursor)


def consumer_conditions(consumer_id: str) -> list[ColumnElement[bool]]:
    return [consultation_table.c.consumer_id == consumer_id]


def region_conditions(region: str, status: ConsultationStatus | None) -> list[ColumnElement[bool]]:
    conditions = [consultation_table.c.region_code.startswith(regions.prefix(region), autoescape=True)]
    if status is not None:
        conditions.append(consultation_table.c.status == status.value)
    return conditions


async def answer(session: AsyncSession, *, consultation_id: uuid.UUID, principal: Principal, body: AnswerIn,
                 cipher: PiiCipher) -> ConsultationRead:
    """open -> answered by a regulator of the region: the clock is met, or stays breached if it ran out; 409 if it
    was answered already."""
    async with session.begin():
        row = (await session.execute(select(consultation_table).where(
            consultation_table.c.id == consultation_id).with_for_update())).mappings().first()
        if row is None or not principal.governs(row["region_code"]):
            raise Problem("not-found", "No such consultation in the regions you govern")
        if row["status"] != ConsultationStatus.OPEN.value:
            raise Problem("conflict", "The consultation was answered already")
        now = utcnow()
        # Late whether or not the sweeper has got to it yet.
        late = row["clock_state"] == ClockState.BREACHED.value or now >= row["due_at"]
        clock_state = ClockState.BREACHED.value if late else ClockState.MET.value
        changed = (await session.execute(
            update(consultation_table).where(consultation_table.c.id == consultation_id)
            .values(status=ConsultationStatus.ANSWERED.value, answered_at=now,
                    answer_enc=cipher.encrypt(body.answer, context=_pii_context(consultation_id, "answer")),
                    answered_by=principal.sub, clock_state=clock_state, updated_at=now,
                    breached_at=row["breached_at"] or (now if late else None),
                    version=consultation_table.c.version + 1)
            .returning(*consultation_table.c))).mappings().one()
        await session.execute(event_table.insert().values(_event(
            consultation_id, now, ConsultationStatus.ANSWERED, Actor(ActorRole.REGULATOR, principal.sub),
            "Answered after the clock ran out" if late else "Answered")))
        return _detail(changed, await _timeline(session, consultation_id), cipher, with_asker=True)


async def sweep_breaches(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime,
                         batch_size: int = 500) -> int:
    """Breach the answer clocks of open consultations due before `now`; returns how many. Each batch is a transaction
    of its own; rows another sweeper holds are skipped and taken by the next sweep."""
    breached = 0
    c = consultation_table.c
    while True:
        async with sessionmaker() as session, session.begin():
            due = (await session.execute(
                select(c.id).where(c.clock_state == ClockState.RUNNING.value, c.due_at <= now)
                .order_by(c.due_at).limit(batch_size).with_for_update(skip_locked=True))).scalars().all()
            if not due:
                return breached
            await session.execute(update(consultation_table).where(c.id.in_(due)).values(
                clock_state=ClockState.BREACHED.value, breached_at=now, updated_at=now, version=c.version + 1))
            await session.execute(event_table.insert(), [
                _event(consultation_id, now, ConsultationStatus.OPEN, Actor(ActorRole.SYSTEM, None),
                       "The answer clock ran out") for consultation_id in due])
            breached += len(due)
        if len(due) < batch_size:
            return breached


async def file_complaint(session: AsyncSession, *, consultation_id: uuid.UUID, consumer_id: str,
                         body: ComplaintFromConsultation, idempotency_key: str | None, cipher: PiiCipher,
                         publisher: Publisher, negotiation_periods: NegotiationPeriods) -> idempotency.StoredResponse:
    """File a complaint prefilled from the consumer's consultation (its question as the facts unless `facts` is
    given, its sector and channel) and link the two, in the filing's transaction: 409 if a complaint was filed from
    it already, and nothing is filed."""
    async with session.begin():
        found = (await session.execute(select(consultation_table).where(
            consultation_table.c.id == consultation_id,
            consultation_table.c.consumer_id == consumer_id))).mappings().first()
    if found is None:
        raise Problem("not-found", "No such consultation")
    channel = Channel(found["channel"])
    complaint = ComplaintCreate.model_validate({
        **body.model_dump(exclude={"facts"}),
        "kind": ComplaintKind.COMPLAINT, "facts": body.facts or _question_of(found, cipher), "sector": found["sector"],
        "channel": channel,
    })

    async def link(link_session: AsyncSession, case: Mapping[str, Any]) -> None:
        linked = (await link_session.execute(
            update(consultation_table)
            .where(consultation_table.c.id == consultation_id, consultation_table.c.complaint_id.is_(None))
            .values(complaint_id=case["id"], updated_at=case["filed_at"], version=consultation_table.c.version + 1)
            .returning(consultation_table.c.status))).scalar_one_or_none()
        if linked is None:
            raise Problem("conflict", "A complaint was filed from this consultation already")
        await link_session.execute(event_table.insert().values(_event(
            consultation_id, case["filed_at"], ConsultationStatus(linked), Actor(ActorRole.CONSUMER, consumer_id),
            "Filed as a complaint", {"complaint_id": str(case["id"])})))

    filing = complaint_service.Filing(
        consumer_id=consumer_id, body=complaint, idempotency_key=idempotency_key, cipher=cipher, publisher=publisher,
        negotiation_periods=negotiation_periods,
        submitted_details={"consultation_id": str(consultation_id), "consultation_case_no": found["case_no"]},
        submitted_code="filed_from_consultation",
        within=link,
    )
    return await complaint_service.file_complaint(session, filing)


async def all_for_consumer(session: AsyncSession, *, consumer_id: str, cipher: PiiCipher) -> list[ConsultationRead]:
    """Every consultation of the consumer in full, with the asker a staff filing recorded: their data export."""
    rows = (await session.execute(select(consultation_table).where(*consumer_conditions(consumer_id))
                                  .order_by(consultation_table.c.id))).mappings().all()
    return [_detail(row, await _timeline(session, row["id"]), cipher, with_asker=True) for row in rows]


async def erase_of_complaint(session: AsyncSession, *, complaint_id: uuid.UUID, cipher: PiiCipher) -> None:
    """Erase the asker, the question and the answer of the consultation a complaint was filed from (there is at
    most one), in the caller's transaction; its coded columns and clock stay for the statistics. The question
    becomes an empty text, sealed like any other, as every reader expects one."""
    consultation_id = await session.scalar(select(consultation_table.c.id)
                                           .where(consultation_table.c.complaint_id == complaint_id))
    if consultation_id is None:
        return
    await session.execute(consultation_table.update().where(consultation_table.c.id == consultation_id).values(
        asker_name_enc=None, asker_phone_enc=None, answer_enc=None,
        question_enc=cipher.encrypt("", context=_pii_context(consultation_id, "question"))))
