"""Case use cases and reads. `queue_negotiation_case` runs inside the consumer's transaction and never commits."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Row, Select, Table, bindparam, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import trail
from mediation.cases.access import load_case_for
from mediation.cases.models import CaseEvent, MediationCase, complainant_name_context, facts_context
from mediation.cases.schemas import (
    CasePurchaseRead,
    CaseRead,
    CaseRequestRead,
    ComplainantRead,
    DeadlineRead,
    MediatorRead,
    SharedEvidenceRead,
    StaffCaseSummary,
)
from mediation.cases.state import (
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    mediation_deadline_state,
    negotiation_deadline_state,
)
from mediation.settings import EVENT_SOURCE
from servicekit.auth import Principal
from servicekit.calendar import local_date, working_days_after
from servicekit.contracts.complaints_v1 import ComplaintAccepted, ComplaintRouted
from servicekit.contracts.mediation_v1 import CaseOpened
from servicekit.db import autocommit_connection, new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import queue_write
from servicekit.events.outbox import Outbox
from servicekit.notify import notify_after_commit
from servicekit.pii import PiiCipher

OPENER_ROLE = "system"
OPENER_ID = "mediation.on-complaints"


# A case as the views below read it: the mapped object, or a row of `mediation_case` (the lists read rows: a page
# of entities cost the identity map and attribute instrumentation of fifty objects nothing would change).
CaseRecord = MediationCase | Row[Any]
CASE_TABLE = cast(Table, MediationCase.__table__)


@dataclass(frozen=True)
class CasePage:
    cases: Sequence[CaseRecord]
    last_id: uuid.UUID | None


def answer_columns(event: ComplaintRouted | ComplaintAccepted) -> dict[str, Any]:
    """The case columns of what the enterprise needs to answer, as the complaint's event carries them."""
    return {"order_no": event.order_no, "purchase_date": event.purchase_date,
            "purchase_amount_fen": event.purchase_amount_fen, "sector": event.sector, "category": event.category,
            "issue_type": event.issue_type,
            "shared_evidence": [item.model_dump(mode="json") for item in event.evidence]}


# The outbox columns the opening writes its `CaseOpened` row into (the others keep their defaults).
_OUTBOX_COLUMNS = ("id", "topic", "aggregate_id", "event_type", "headers", "payload")


@functools.cache
def _open_case_statement(outbox_table: Table) -> Select[uuid.UUID]:
    """The case, the first row of its trail and its `CaseOpened` outbox row in one statement, all only if the
    complaint has no case yet (its unique complaint_id makes a redelivered event harmless even if the inbox were
    bypassed). Built once per outbox table and executed with parameters, queued: the consumer runs the openings of a
    whole fetch as one executemany (`queue_negotiation_case`)."""
    cases, events = CASE_TABLE, cast(Table, CaseEvent.__table__)
    opened = (
        insert(cases)
        .values({name: _opening_parameter(name) for name in _OPENING_COLUMNS})
        .on_conflict_do_nothing(index_elements=[cases.c.complaint_id])
        .returning(cases.c.id)
        .cte("opened")
    )
    announced = insert(outbox_table).from_select(
        list(_OUTBOX_COLUMNS),
        select(*(bindparam(f"outbox_{name}", type_=outbox_table.c[name].type) for name in _OUTBOX_COLUMNS))
        .select_from(opened),
    ).cte("announced")
    first_event = select(
        bindparam("event_id", type_=events.c.id.type), opened.c.id, _opening_parameter("opened_at"), literal("opened"),
        literal(OPENER_ROLE), literal(OPENER_ID), bindparam("details", type_=events.c.details.type),
    )
    trail_started = (insert(events).from_select(["id", "case_id", "at", "kind", "actor_role", "actor_id", "details"],
                                                first_event)
                     .returning(events.c.case_id).cte("trail_started"))
    return select(trail_started.c.case_id).add_cte(opened).add_cte(announced)


def _opening_parameter(name: str) -> BindParameter[Any]:
    """The opening statement's parameter for the case column `name`."""
    return bindparam(name, type_=CASE_TABLE.c[name].type)


_OPENING_COLUMNS = (
    "id", "complaint_id", "case_no", "merchant_id", "consumer_id", "region_code", "status", "complainant_name",
    "complainant_phone_masked", "request_type", "request_amount_fen", "facts_enc", "due_date", "opened_at", "version",
    "order_no", "purchase_date", "purchase_amount_fen", "sector", "category", "issue_type", "shared_evidence",
)


def queue_negotiation_case(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, routed: ComplaintRouted,
                           cause: EventEnvelope) -> uuid.UUID:
    """Queue the opening of the negotiation case of a complaint routed to its merchant (`_open_case_statement`,
    written with the fetch's other openings when its handlers are done); the id the case will have, unless the
    complaint already has one."""
    if routed.merchant_id is None:
        raise ValueError(f"complaint {routed.complaint_id} was routed to a merchant without a merchant_id")
    case_id = new_id()
    opened_at = utcnow()
    [announcement] = outbox.rows(CaseOpened(
        case_id=case_id, complaint_id=routed.complaint_id, merchant_id=routed.merchant_id,
        region_code=routed.region_code, status=CaseStatus.NEGOTIATING.value, due_date=routed.due_date,
        opened_at=opened_at,
    ).envelope(source=EVENT_SOURCE, correlationid=cause.correlationid, causationid=str(cause.id)))
    queue_write(session, _open_case_statement(outbox.table), {
        "id": case_id,
        "complaint_id": routed.complaint_id,
        "case_no": routed.case_no,
        "merchant_id": routed.merchant_id,
        "consumer_id": routed.consumer_id,
        "region_code": routed.region_code,
        "status": CaseStatus.NEGOTIATING.value,
        "complainant_name": cipher.encrypt(routed.complainant.full_name(cipher, complaint_id=routed.complaint_id),
                                           context=complainant_name_context(case_id)),
        "complainant_phone_masked": routed.complainant.phone_masked,
        "request_type": routed.request_type,
        "request_amount_fen": routed.request_amount_fen,
        "facts_enc": cipher.encrypt(routed.facts_text(cipher, complaint_id=routed.complaint_id),
                                    context=facts_context(case_id)),
        "due_date": routed.due_date,
        "opened_at": opened_at,
        "version": 1,
        **answer_columns(routed),
        "event_id": new_id(),
        "details": {"stage": CaseStatus.NEGOTIATING.value, "complaint_id": str(routed.complaint_id),
                    "due_date": routed.due_date.isoformat() if routed.due_date else None, "cause": str(cause.id)},
        **{f"outbox_{name}": value for name, value in announcement.items()},
    })
    # A redelivery that opens nothing costs the relay one look.
    notify_after_commit(session, outbox.notify_channel)
    return case_id


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> MediationCase | None:
    """The case with this id, if any."""
    return await session.get(MediationCase, case_id)


async def list_merchant_cases(session: AsyncSession, *, merchant_id: uuid.UUID, status: CaseStatus | None,
                              before_id: uuid.UUID | None, limit: int) -> CasePage:
    """A page of the merchant's cases, newest first (ids are UUIDv7, so id order is opening order)."""
    query = select(CASE_TABLE).where(CASE_TABLE.c.merchant_id == merchant_id)
    return await _page(session, query, status=status, before_id=before_id, limit=limit)


async def list_staff_cases(session: AsyncSession, *, region_prefix: str | None, mediator_id: str | None,
                           status: CaseStatus | None, before_id: uuid.UUID | None, limit: int) -> CasePage:
    """A page of a region's cases (code prefix), or of the cases one mediator is assigned, newest first."""
    query = select(CASE_TABLE)
    if region_prefix is not None:
        query = query.where(CASE_TABLE.c.region_code.startswith(region_prefix, autoescape=True))
    if mediator_id is not None:
        query = query.where(CASE_TABLE.c.mediator_id == mediator_id)
    return await _page(session, query, status=status, before_id=before_id, limit=limit)


async def _page(session: AsyncSession, query: Select[Any], *, status: CaseStatus | None, before_id: uuid.UUID | None,
                limit: int) -> CasePage:
    """`query`'s cases with `status`, older than `before_id`, newest first: one page, read in one statement."""
    if status is not None:
        query = query.where(CASE_TABLE.c.status == status.value)
    if before_id is not None:
        query = query.where(CASE_TABLE.c.id < before_id)
    connection = await autocommit_connection(session)
    rows = (await connection.execute(query.order_by(CASE_TABLE.c.id.desc()).limit(limit + 1))).all()
    cases = rows[:limit]
    return CasePage(cases=cases, last_id=cases[-1].id if len(rows) > limit else None)


async def read_as_staff(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal,
                        now: datetime) -> MediationCase:
    """Staff and mediators see the complainant's personal data: the read itself goes on the case's audit trail."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal)
        await trail.record(session, case, kind="read_by_staff", actor=actor, at=now)
        return case


def deadlines_of(case: CaseRecord) -> list[DeadlineRead]:
    """The clocks of the case as they stand today (Asia/Shanghai)."""
    status, today = CaseStatus(case.status), local_date(utcnow())

    def clock(kind: DeadlineKind, due_date: date, state: DeadlineState) -> DeadlineRead:
        left = working_days_after(today, due_date) if state is DeadlineState.RUNNING else None
        return DeadlineRead(kind=kind, due_date=due_date, state=state, working_days_left=left)

    deadlines = []
    if case.due_date is not None:
        deadlines.append(clock(DeadlineKind.MERCHANT_NEGOTIATION, case.due_date,
                               negotiation_deadline_state(status, case.due_date, today)))
    if case.mediation_due_date is not None:
        deadlines.append(clock(DeadlineKind.MEDIATION, case.mediation_due_date,
                               mediation_deadline_state(status, case.mediation_due_date, today,
                                                        paused=case.paused_at is not None)))
    return deadlines


def merchant_evidence_path(complaint_id: uuid.UUID, evidence_id: str) -> str:
    """Where the enterprise downloads a shared attachment (served by complaints, which keeps the files)."""
    return f"/v1/merchant/complaints/{complaint_id}/evidence/{evidence_id}"


def case_read(case: CaseRecord, cipher: PiiCipher) -> CaseRead:
    """The shared view of a case; the complainant's name is decrypted only here."""
    return CaseRead(
        id=case.id,
        complaint_id=case.complaint_id,
        case_no=case.case_no,
        status=CaseStatus(case.status),
        merchant_id=case.merchant_id,
        region_code=case.region_code,
        deadlines=deadlines_of(case),
        complainant=ComplainantRead(
            name=cipher.decrypt(case.complainant_name, context=complainant_name_context(case.id)),
            phone_masked=case.complainant_phone_masked,
        ),
        request=CaseRequestRead(type=case.request_type, amount_fen=case.request_amount_fen),
        facts=cipher.decrypt(case.facts_enc, context=facts_context(case.id)),
        purchase=CasePurchaseRead(order_no=case.order_no, date=case.purchase_date,
                                  amount_fen=case.purchase_amount_fen)
        if case.order_no or case.purchase_date or case.purchase_amount_fen is not None else None,
        sector=case.sector,
        category=case.category,
        issue_type=case.issue_type,
        evidence=[SharedEvidenceRead(**item, download_path=merchant_evidence_path(case.complaint_id, item["id"]))
                  for item in case.shared_evidence or []],
        opened_at=case.opened_at,
        closed_at=case.closed_at,
    )


def mediator_of(case: CaseRecord) -> MediatorRead | None:
    """Who mediates the case, if anyone is assigned."""
    if case.mediator_id is None or case.mediator_kind is None:
        return None
    return MediatorRead(kind=case.mediator_kind, id=case.mediator_id, region_code=case.mediator_region,
                        delegated=case.delegated)


def staff_summary(case: CaseRecord) -> StaffCaseSummary:
    """A case as staff lists show it: mediator and clocks, no personal data."""
    return StaffCaseSummary(id=case.id, complaint_id=case.complaint_id, case_no=case.case_no,
                            status=CaseStatus(case.status), stage=case.stage, merchant_id=case.merchant_id,
                            region_code=case.region_code, mediator=mediator_of(case), deadlines=deadlines_of(case),
                            opened_at=case.opened_at, closed_at=case.closed_at)
