"""Case use cases and reads. `open_negotiation_case` runs inside the consumer's transaction and never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import trail
from mediation.cases.access import load_case_for
from mediation.cases.models import CaseEvent, MediationCase, complainant_name_context
from mediation.cases.state import CaseStatus
from mediation.settings import EVENT_SOURCE
from servicekit.auth import Principal
from servicekit.contracts.complaints_v1 import ComplaintRouted
from servicekit.contracts.mediation_v1 import CaseOpened
from servicekit.db import new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher

OPENER_ROLE = "system"
OPENER_ID = "mediation.on-complaints"


@dataclass(frozen=True)
class CasePage:
    cases: list[MediationCase]
    last_id: uuid.UUID | None


async def open_negotiation_case(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher,
                                routed: ComplaintRouted, cause: EventEnvelope) -> uuid.UUID | None:
    """Open the negotiation case of a complaint routed to its merchant; None if the complaint already has one."""
    if routed.merchant_id is None:
        raise ValueError(f"complaint {routed.complaint_id} was routed to a merchant without a merchant_id")
    case_id = new_id()
    opened_at = utcnow()
    inserted = await session.execute(
        insert(MediationCase)
        .values(
            id=case_id,
            complaint_id=routed.complaint_id,
            case_no=routed.case_no,
            merchant_id=routed.merchant_id,
            consumer_id=routed.consumer_id,
            region_code=routed.region_code,
            status=CaseStatus.NEGOTIATING.value,
            complainant_name=cipher.encrypt(routed.complainant.name, context=complainant_name_context(case_id)),
            complainant_phone_masked=routed.complainant.phone_masked,
            request_type=routed.request_type,
            request_amount_fen=routed.request_amount_fen,
            facts=routed.facts,
            due_date=routed.due_date,
            opened_at=opened_at,
            version=1,
        )
        # The unique complaint_id makes a redelivered event harmless even if the inbox were bypassed.
        .on_conflict_do_nothing(index_elements=[MediationCase.complaint_id])
        .returning(MediationCase.id)
    )
    if inserted.first() is None:
        return None
    await session.execute(insert(CaseEvent).values(
        id=new_id(), case_id=case_id, at=opened_at, kind="opened", actor_role=OPENER_ROLE, actor_id=OPENER_ID,
        details={"stage": CaseStatus.NEGOTIATING.value, "complaint_id": str(routed.complaint_id),
                 "due_date": routed.due_date.isoformat() if routed.due_date else None, "cause": str(cause.id)},
    ))
    await outbox.add(session, CaseOpened(
        case_id=case_id, complaint_id=routed.complaint_id, merchant_id=routed.merchant_id,
        region_code=routed.region_code, status=CaseStatus.NEGOTIATING.value, due_date=routed.due_date,
        opened_at=opened_at,
    ).envelope(source=EVENT_SOURCE, correlationid=cause.correlationid, causationid=str(cause.id)))
    return case_id


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> MediationCase | None:
    """The case with this id, if any."""
    return await session.get(MediationCase, case_id)


async def list_merchant_cases(session: AsyncSession, *, merchant_id: uuid.UUID, status: CaseStatus | None,
                              before_id: uuid.UUID | None, limit: int) -> CasePage:
    """A page of the merchant's cases, newest first (ids are UUIDv7, so id order is opening order)."""
    query = select(MediationCase).where(MediationCase.merchant_id == merchant_id)
    if status is not None:
        query = query.where(MediationCase.status == status.value)
    if before_id is not None:
        query = query.where(MediationCase.id < before_id)
    rows = list((await session.execute(query.order_by(MediationCase.id.desc()).limit(limit + 1))).scalars())
    has_more = len(rows) > limit
    cases = rows[:limit]
    return CasePage(cases=cases, last_id=cases[-1].id if has_more else None)


async def list_staff_cases(session: AsyncSession, *, region_prefix: str | None, mediator_id: str | None,
                           status: CaseStatus | None, before_id: uuid.UUID | None, limit: int) -> CasePage:
    """A page of a region's cases (code prefix), or of the cases one mediator is assigned, newest first."""
    query = select(MediationCase)
    if region_prefix is not None:
        query = query.where(MediationCase.region_code.startswith(region_prefix, autoescape=True))
    if mediator_id is not None:
        query = query.where(MediationCase.mediator_id == mediator_id)
    if status is not None:
        query = query.where(MediationCase.status == status.value)
    if before_id is not None:
        query = query.where(MediationCase.id < before_id)
    rows = list((await session.execute(query.order_by(MediationCase.id.desc()).limit(limit + 1))).scalars())
    has_more = len(rows) > limit
    cases = rows[:limit]
    return CasePage(cases=cases, last_id=cases[-1].id if has_more else None)


async def read_as_staff(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal,
                        now: datetime) -> MediationCase:
    """Staff and mediators see the complainant's personal data: the read itself goes on the case's audit trail."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal)
        await trail.record(session, case, kind="read_by_staff", actor=actor, at=now)
        return case
