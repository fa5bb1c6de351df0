"""Raising signals inside the transaction of the flow that saw them; each raised signal puts its case in the queue.

The hooks here are called by the flows of `mediation.cases`, `mediation.fulfilment` and `mediation.regulator` and by
`mediation.outcomes.jobs`; none of them commits. The rules themselves are in `mediation.outcomes.rules`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ARRAY, Select, SQLColumnExpression, Table, Uuid, any_, bindparam, func, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mediation.agreements.models import SettlementAgreement
from mediation.audit import service as audit_service
from mediation.cases.models import CaseEvent, MediationCase
from mediation.cases.state import FINAL
from mediation.outcomes import rules, thresholds
from mediation.outcomes.models import ComplaintProfile, OutcomeSignal, SignalKind, StationSettlement
from servicekit.db import new_id
from servicekit.events.inbox import queue_write

WITHDRAWAL_GROUND = 1


async def raise_signal(session: AsyncSession, case: MediationCase, kind: SignalKind, *, at: datetime,
                       detail: dict[str, Any], subject_id: str | None = None, period: str | None = None) -> bool:
    """Store the signal (once per case and kind; once per subject, region and period) and queue the case."""
    inserted = await session.execute(
        insert(OutcomeSignal).values(id=new_id(), case_id=case.id, kind=kind.value, region_code=case.region_code,
                                     merchant_id=case.merchant_id, subject_id=subject_id, period=period,
                                     detail=detail, raised_at=at)
        .on_conflict_do_nothing().returning(OutcomeSignal.id))
    signal_id = inserted.scalar_one_or_none()
    if signal_id is None:
        return False
    review_id = await audit_service.queue_case(session, case, at=at)
    await session.execute(update(OutcomeSignal).where(OutcomeSignal.id == signal_id).values(review_id=review_id))
    return True


async def on_settled(session: AsyncSession, *, case: MediationCase, agreement: SettlementAgreement,
                     at: datetime) -> None:
    """low_settlement: the agreed amount against the requested one (`rules.is_low_settlement`)."""
    limits = (await thresholds.resolve(session, case.region_code)).values
    agreed_type = str(agreement.terms.get("offer_type"))
    if rules.is_low_settlement(requested_fen=case.request_amount_fen, agreed_fen=agreement.amount_fen,
                               agreed_type=agreed_type, bp=limits.low_settlement_bp):
        assert case.request_amount_fen is not None
        await raise_signal(session, case, SignalKind.LOW_SETTLEMENT, at=at, detail={
            "requested_type": case.request_type, "requested_fen": case.request_amount_fen,
            "agreed_type": agreed_type, "agreed_fen": agreement.amount_fen,
            "share": round(agreement.amount_fen / case.request_amount_fen, 4),
            "threshold_share": limits.low_settlement_bp / 10_000, "agreement_id": str(agreement.id)})


async def on_fulfilment_disputed(session: AsyncSession, *, case: MediationCase, agreement: SettlementAgreement,
                                 proof_id: uuid.UUID, at: datetime) -> None:
    """fulfilment_disputed: the consumer disputed a proof of fulfilment (why, the proof's sealed answer note says)."""
    await raise_signal(session, case, SignalKind.FULFILMENT_DISPUTED, at=at, detail={
        "agreement_id": str(agreement.id), "proof_id": str(proof_id)})


# What the case trail records when the enterprise writes to the consumer or puts an offer on the table.
CONTACT_KINDS = ("message_posted", "offer_made")


async def first_enterprise_contact(session: AsyncSession, case_id: uuid.UUID) -> datetime | None:
    """When the enterprise first spoke on the case: its first message or offer, as the case trail has them."""
    first: datetime | None = await session.scalar(select(func.min(CaseEvent.at)).where(
        CaseEvent.case_id == case_id, CaseEvent.actor_role == "enterprise", CaseEvent.kind.in_(CONTACT_KINDS)))
    return first


async def on_terminated(session: AsyncSession, *, case: MediationCase, ground: int, at: datetime) -> None:
    """withdrawn_after_contact: a withdrawal (ground 1) soon after the enterprise's first contact."""
    if ground != WITHDRAWAL_GROUND:
        return
    contact = await first_enterprise_contact(session, case.id)
    if contact is None:
        return
    limits = (await thresholds.resolve(session, case.region_code)).values
    if rules.within_days(contact, at, limits.withdrawal_days):
        await raise_signal(session, case, SignalKind.WITHDRAWN_AFTER_CONTACT, at=at, detail={
            "first_contact_at": contact.isoformat(), "withdrawn_at": at.isoformat(),
            "hours_after_contact": round((at - contact).total_seconds() / 3600, 1),
            "threshold_days": limits.withdrawal_days})


@dataclass(frozen=True)
class EarlierCase:
    """The consumer's latest earlier case against the same enterprise that was over when the new case's complaint was
    filed, with that filing time (`closed_before`)."""

    id: uuid.UUID
    case_no: str
    complaint_id: uuid.UUID
    closed_at: datetime
    filed_at: datetime


@dataclass(frozen=True)
class Opening:
    """A case just opened, and when (the refiling signal's time)."""

    case_id: uuid.UUID
    at: datetime


async def judge_refilings(session: AsyncSession, openings: list[Opening]) -> None:
    """refiled_after_close for cases just opened, one look for all of them (`EARLIER_CASES_OF`): the consumer queues
    it after a fetch's openings (`queue_follow_up`), where it was a look per filing; the regulator's acceptance
    judges its one case. Only when an earlier case is found is the region's threshold read."""
    at_of = {opening.case_id: opening.at for opening in openings}
    found = await session.execute(EARLIER_CASES_OF, {"case_ids": list(at_of)})
    for case_id, earlier_id, case_no, complaint_id, closed_at, filed_at in found.all():
        # The look's conditions make both times known; the columns are nullable only as columns.
        assert closed_at is not None
        assert filed_at is not None
        earlier = EarlierCase(id=earlier_id, case_no=case_no, complaint_id=complaint_id, closed_at=closed_at,
                              filed_at=filed_at)
        await on_refiled(session, case_id=case_id, earlier=earlier, at=at_of[case_id])


async def on_refiled(session: AsyncSession, *, case_id: uuid.UUID, earlier: EarlierCase, at: datetime) -> None:
    """refiled_after_close: the consumer's latest earlier case against the same enterprise closed shortly before."""
    case = await session.get(MediationCase, case_id)
    assert case is not None
    limits = (await thresholds.resolve(session, case.region_code)).values
    if rules.within_days(earlier.closed_at, earlier.filed_at, limits.refile_days):
        await raise_signal(session, case, SignalKind.REFILED_AFTER_CLOSE, at=at, detail={
            "earlier_case_id": str(earlier.id), "earlier_case_no": earlier.case_no,
            "earlier_complaint_id": str(earlier.complaint_id), "earlier_closed_at": earlier.closed_at.isoformat(),
            "filed_at": earlier.filed_at.isoformat(),
            "days_after_close": round((earlier.filed_at - earlier.closed_at).total_seconds() / 86_400, 1),
            "threshold_days": limits.refile_days})


def closed_before(*, case_id: SQLColumnExpression[uuid.UUID], complaint_id: SQLColumnExpression[uuid.UUID],
                  consumer_id: SQLColumnExpression[str], merchant_id: SQLColumnExpression[uuid.UUID | None],
                  opened_at: SQLColumnExpression[datetime],
                  ) -> Select[uuid.UUID, str, uuid.UUID, datetime | None, datetime | None]:
    """The `EarlierCase` of a case with these columns, if any: the same consumer's latest case against the same
    enterprise that was over when the case's complaint was filed (its filing time from complaints' `filed` event,
    else the case's opening), with that filing time."""
    earlier = aliased(MediationCase)
    # Correlated to the case's row wherever it is, in the enclosing statement or one further out (a lateral join).
    profiled = (select(ComplaintProfile.filed_at).where(ComplaintProfile.complaint_id == complaint_id)
                .correlate_except(ComplaintProfile).scalar_subquery())
    filed_at = func.coalesce(profiled, opened_at)
    return (
        select(earlier.id, earlier.case_no, earlier.complaint_id, earlier.closed_at, filed_at.label("filed_at"))
        .where(earlier.consumer_id == consumer_id, earlier.merchant_id == merchant_id, earlier.id != case_id,
               earlier.status.in_([status.value for status in FINAL]), earlier.closed_at.is_not(None),
               earlier.closed_at <= filed_at)
        .order_by(earlier.closed_at.desc()).limit(1)
    )


def _earlier_cases_of() -> Select[uuid.UUID, uuid.UUID, str, uuid.UUID, datetime | None, datetime | None]:
    """Each case of `case_ids` that has an earlier case (`closed_before`, as a lateral join), with its columns."""
    opened = aliased(MediationCase)
    earlier = closed_before(case_id=opened.id, complaint_id=opened.complaint_id, consumer_id=opened.consumer_id,
                            merchant_id=opened.merchant_id, opened_at=opened.opened_at).lateral("earlier")
    return (select(opened.id, *earlier.c).select_from(opened).join(earlier, true())
            .where(opened.id == any_(bindparam("case_ids", type_=ARRAY(Uuid)))))


# Built once: aliased entities make building and keying the statement cost more than running it.
EARLIER_CASES_OF = _earlier_cases_of()


_profiles = cast(Table, ComplaintProfile.__table__)
_filed = insert(_profiles).values(
    complaint_id=bindparam("complaint_id"), sector=bindparam("sector"), filed_at=bindparam("filed_at"),
    request_type=bindparam("request_type"), request_amount_fen=bindparam("request_amount_fen"))
# Built once, executed with parameters: building the upsert per event cost more than running it. The update takes
# each row's own values (`excluded`), so one execution can carry many complaints.
_RECORD_FILED = _filed.on_conflict_do_update(
    index_elements=[_profiles.c.complaint_id],
    set_={name: _filed.excluded[name] for name in ("sector", "filed_at", "request_type", "request_amount_fen")})


def record_filed(session: AsyncSession, *, complaint_id: uuid.UUID, sector: str, filed_at: datetime,
                 request_type: str, request_amount_fen: int | None) -> None:
    """Keep the complaint's sector, filing time and request (from complaints' `filed` event), written with the
    other filings of the consumer's fetch when its handlers are done: one execution per fetch, not a statement per
    filing. The refiling looks that read it run after the fetch's queued writes (`judge_refilings`, queued as their
    follow-up) or write them first."""
    queue_write(session, _RECORD_FILED, {"complaint_id": complaint_id, "sector": sector, "filed_at": filed_at,
                                         "request_type": request_type, "request_amount_fen": request_amount_fen})


async def record_station_settlement(session: AsyncSession, *, complaint_id: uuid.UUID, case_no: str,
                                    region_code: str, merchant_id: uuid.UUID | None, station_id: uuid.UUID,
                                    amount_fen: int, settled_at: datetime) -> None:
    """Keep a complaint a station settled on the spot (from complaints' `closed` event naming the station); a
    redelivery adds nothing."""
    await session.execute(insert(StationSettlement).values(
        complaint_id=complaint_id, case_no=case_no, region_code=region_code, merchant_id=merchant_id,
        station_id=station_id, amount_fen=amount_fen, settled_at=settled_at).on_conflict_do_nothing())


async def record_rating(session: AsyncSession, *, complaint_id: uuid.UUID, rating: int, rated_at: datetime) -> None:
    """Keep the consumer's rating of the handling (from complaints' `rated` event)."""
    await session.execute(insert(ComplaintProfile).values(complaint_id=complaint_id, rating=rating, rated_at=rated_at)
                          .on_conflict_do_update(index_elements=[ComplaintProfile.complaint_id],
                                                 set_={"rating": rating, "rated_at": rated_at}))
