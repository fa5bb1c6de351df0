"""How a case ends (or stops negotiating): state, audit row, outbox event and audit-chain entry, in one transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.audit import chain
from mediation.cases import trail
from mediation.cases.access import Actor
from mediation.cases.models import MediationCase
from mediation.cases.state import CaseStatus, Stage, transition
from mediation.negotiation.content import agreement_hash
from mediation.negotiation.models import Offer, OfferStatus, SettlementAgreement
from mediation.outcomes import signals
from mediation.regulator.models import PartyNotification
from mediation.settings import EVENT_SOURCE
from servicekit.calendar import add_working_days, local_date
from servicekit.contracts.mediation_v1 import CaseSettled, CaseTerminated, NegotiationFailed
from servicekit.db import new_id
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox


def _envelope(contract: Any, cause: EventEnvelope | None) -> EventEnvelope:
    if cause is None:
        return contract.envelope(source=EVENT_SOURCE)  # type: ignore[no-any-return]
    return contract.envelope(  # type: ignore[no-any-return]
        source=EVENT_SOURCE, correlationid=cause.correlationid, causationid=str(cause.id))


async def lapse_open_offer(session: AsyncSession, case: MediationCase, at: datetime) -> None:
    """An offer still open when the case stops negotiating can no longer be accepted."""
    offer = (await session.execute(select(Offer).where(Offer.case_id == case.id,
                                                       Offer.status == OfferStatus.OPEN.value))).scalar_one_or_none()
    if offer is not None:
        offer.status = OfferStatus.LAPSED.value
        offer.answered_at = at


async def fail_negotiation(session: AsyncSession, *, outbox: Outbox, case: MediationCase, actor: Actor,
                           reason: str, at: datetime, note: str | None = None,
                           cause: EventEnvelope | None = None) -> None:
    """Negotiation ended without agreement (declined, escalated, deadline passed): on to regulator intake."""
    case.status = transition(CaseStatus(case.status), CaseStatus.FAILED).value
    case.failure_reason = reason
    await lapse_open_offer(session, case, at)
    await trail.record(session, case, kind="negotiation_failed", actor=actor, at=at,
                       details={"reason": reason, "note": note})
    await outbox.add(session, _envelope(NegotiationFailed(**trail.event_fields(case, at), reason=reason), cause))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="negotiation_failed", at=at,
                       details={"complaint_id": str(case.complaint_id), "reason": reason, "actor": actor.role})
    await trail.notify(session, case.id, "status")


async def settle(session: AsyncSession, *, outbox: Outbox, case: MediationCase, offer: Offer, actor: Actor,
                 consumer_consent: tuple[str, datetime], enterprise_consent: tuple[str, datetime], at: datetime,
                 document_no: str | None = None) -> SettlementAgreement:
    """Turn the accepted offer into the case's settlement agreement and close the case as settled."""
    case.status = transition(CaseStatus(case.status), CaseStatus.SETTLED).value
    case.closed_at = at
    offer.status = OfferStatus.ACCEPTED.value
    offer.answered_at = at
    offer.answered_by_id = actor.id
    agreement = SettlementAgreement(
        id=new_id(), case_id=case.id, offer_id=offer.id, stage=case.stage,
        terms={"offer_type": offer.offer_type, "amount_fen": offer.amount_fen,
               "fulfil_by": offer.fulfil_by.isoformat() if offer.fulfil_by else None, "note": offer.note},
        amount_fen=offer.amount_fen or 0, fulfil_by=offer.fulfil_by,
        consumer_consent_by=consumer_consent[0], consumer_consent_at=consumer_consent[1],
        enterprise_consent_by=enterprise_consent[0], enterprise_consent_at=enterprise_consent[1],
        document_no=document_no, mediator_id=case.mediator_id if case.stage == Stage.MEDIATION.value else None,
        content_hash="", created_at=at,
    )
    agreement.content_hash = agreement_hash(agreement, case)
    session.add(agreement)
    await session.flush()
    await trail.record(session, case, kind="settled", actor=actor, at=at,
                       details={"agreement_id": str(agreement.id), "offer_id": str(offer.id),
                                "content_hash": agreement.content_hash})
    await outbox.add(session, _envelope(CaseSettled(
        **trail.event_fields(case, at), stage=case.stage, agreement_id=agreement.id,
        agreement_hash=agreement.content_hash, amount_fen=agreement.amount_fen, fulfil_by=agreement.fulfil_by,
        document_no=agreement.document_no,
    ), None))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="settled", at=at, details={
        "complaint_id": str(case.complaint_id), "stage": case.stage, "agreement_id": str(agreement.id),
        "agreement_hash": agreement.content_hash, "amount_fen": agreement.amount_fen})
    await signals.on_settled(session, case=case, agreement=agreement, at=at)
    await trail.notify(session, case.id, "status")
    return agreement


async def terminate(session: AsyncSession, *, outbox: Outbox, case: MediationCase, actor: Actor, ground: int,
                    note: str | None, at: datetime, notice_working_days: int,
                    cause: EventEnvelope | None = None) -> date:
    """End the case without agreement on an Art. 23 ground; both parties are owed a notice within N working days."""
    case.status = transition(CaseStatus(case.status), CaseStatus.TERMINATED).value
    case.termination_ground = ground
    case.termination_note = note
    case.closed_at = at
    await lapse_open_offer(session, case, at)
    notice_due = add_working_days(local_date(at), notice_working_days)
    session.add_all([PartyNotification(id=new_id(), case_id=case.id, party=party, kind="termination",
                                       due_date=notice_due, created_at=at) for party in ("consumer", "enterprise")])
    await trail.record(session, case, kind="terminated", actor=actor, at=at,
                       details={"ground": ground, "note": note, "notice_due": notice_due.isoformat()})
    await outbox.add(session, _envelope(CaseTerminated(**trail.event_fields(case, at), ground=ground, note=note,
                                                       notice_due=notice_due),
                                        cause))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="terminated", at=at, details={
        "complaint_id": str(case.complaint_id), "stage": case.stage, "ground": ground, "actor": actor.role})
    await signals.on_terminated(session, case=case, ground=ground, at=at)
    await trail.notify(session, case.id, "status")
    return notice_due
