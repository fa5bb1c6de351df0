"""Negotiation use cases; each owns one transaction holding the case row lock, so concurrent answers serialize.

How a case stops negotiating (an open offer lapses, the negotiation fails, the case settles) runs inside the
caller's transaction: state, audit row, outbox event and audit-chain entry commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.agreements.models import SettlementAgreement
from mediation.agreements.service import agreement_hash, sealed_terms
from mediation.audit import chain
from mediation.cases import trail
from mediation.cases.access import SYSTEM, Actor, load_case_for
from mediation.cases.models import MediationCase
from mediation.cases.state import CaseStatus, Stage, require_open_for_offers, transition
from mediation.negotiation.models import Offer, OfferStatus, Party, opened_offer_note, sealed_offer_note
from mediation.negotiation.schemas import OfferReject, OfferTerms
from mediation.outcomes import signals
from mediation.settings import EVENT_SOURCE
from servicekit.auth import Principal
from servicekit.calendar import local_date
from servicekit.contracts.mediation_v1 import CaseSettled, NegotiationFailed, OfferAnswered, OfferMade
from servicekit.db import new_id
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

BATCH = 100


@dataclass(frozen=True)
class Answer:
    case: MediationCase
    offer: Offer
    counter: Offer | None = None
    agreement: SettlementAgreement | None = None


def _require(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise Problem("forbidden", f"Only the {' or '.join(roles)} may do this")


def _check_fulfil_by(terms: OfferTerms, today: date) -> None:
    if terms.fulfil_by is not None and terms.fulfil_by < today:
        raise Problem("validation-error", errors=[{"field": "body.fulfil_by", "message": "Lies in the past",
                                                   "code": "date_in_past"}])


async def _open_offer(session: AsyncSession, case_id: uuid.UUID) -> Offer | None:
    return (await session.execute(select(Offer).where(Offer.case_id == case_id,
                                                      Offer.status == OfferStatus.OPEN.value))).scalar_one_or_none()


async def _offer_of(session: AsyncSession, case: MediationCase, offer_id: uuid.UUID) -> Offer:
    offer = await session.get(Offer, offer_id, populate_existing=True)
    if offer is None or offer.case_id != case.id:
        raise Problem("not-found", "No such offer")
    if offer.status != OfferStatus.OPEN.value:
        raise Problem("conflict", f"The offer is {offer.status}", offer_status=offer.status)
    return offer


async def _put_on_table(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case: MediationCase,
                        actor: Actor, party: Party, terms: OfferTerms, at: datetime,
                        counter_to: uuid.UUID | None = None) -> Offer:
    offer_id = new_id()
    offer = Offer(id=offer_id, case_id=case.id, made_by=party.value, made_by_id=actor.id, offer_type=terms.type.value,
                  amount_fen=terms.amount_fen, fulfil_by=terms.fulfil_by,
                  note_enc=sealed_offer_note(cipher, offer_id, terms.note),
                  status=OfferStatus.OPEN.value, counter_to=counter_to, made_at=at)
    session.add(offer)
    await session.flush()
    await trail.record(session, case, kind="offer_made", actor=actor, at=at, details={
        "offer_id": str(offer.id), "made_by": party.value, "type": terms.type.value, "amount_fen": terms.amount_fen,
        "fulfil_by": terms.fulfil_by.isoformat() if terms.fulfil_by else None,
        "counter_to": str(counter_to) if counter_to else None})
    await outbox.add(session, OfferMade(**trail.event_fields(case, at), offer_id=offer.id, made_by=party.value,
                                        offer_type=terms.type.value, amount_fen=terms.amount_fen,
                                        fulfil_by=terms.fulfil_by).envelope(source=EVENT_SOURCE))
    trail.notify(session, case.id, "offer", offer.id)
    return offer


async def _answer(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case: MediationCase, offer: Offer,
                  actor: Actor, status: OfferStatus, at: datetime, note: str | None = None) -> None:
    offer.status = status.value
    offer.answered_at = at
    offer.answered_by_id = actor.id
    await session.flush()
    await trail.record(session, case, kind=f"offer_{status.value}", actor=actor, at=at,
                       details={"offer_id": str(offer.id), "note": note}, cipher=cipher)
    await outbox.add(session, OfferAnswered(**trail.event_fields(case, at), offer_id=offer.id, answer=status.value,
                                            answered_by=actor.role).envelope(source=EVENT_SOURCE))
    trail.notify(session, case.id, "offer", offer.id)


async def make_offer(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                     principal: Principal,
                     terms: OfferTerms, now: datetime) -> Offer:
    """The enterprise puts an offer on the table; an open counter of the consumer's is superseded by it."""
    _check_fulfil_by(terms, local_date(now))
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "enterprise")
        require_open_for_offers(CaseStatus(case.status))
        current = await _open_offer(session, case.id)
        if current is not None:
            if current.made_by == Party.ENTERPRISE.value:
                raise Problem("conflict", "An offer is already open; withdraw it first", open_offer_id=str(current.id))
            await _answer(session, outbox=outbox, cipher=cipher, case=case, offer=current, actor=actor,
                          status=OfferStatus.SUPERSEDED, at=now)
        return await _put_on_table(session, outbox=outbox, cipher=cipher, case=case, actor=actor,
                                   party=Party.ENTERPRISE,
                                   terms=terms, at=now)


async def withdraw_offer(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                         offer_id: uuid.UUID,
                         principal: Principal, now: datetime) -> Answer:
    """The enterprise takes back its open offer (409 once it was answered)."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "enterprise")
        offer = await _offer_of(session, case, offer_id)
        if offer.made_by != Party.ENTERPRISE.value:
            raise Problem("conflict", "Only the enterprise's own offers can be withdrawn")
        await _answer(session, outbox=outbox, cipher=cipher, case=case, offer=offer, actor=actor,
                      status=OfferStatus.WITHDRAWN,
                      at=now)
        return Answer(case=case, offer=offer)


async def accept_offer(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       offer_id: uuid.UUID,
                       principal: Principal, now: datetime) -> Answer:
    """The other side accepts the open offer: the consumer an enterprise offer, the enterprise a counter."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "consumer", "enterprise")
        require_open_for_offers(CaseStatus(case.status))
        offer = await _offer_of(session, case, offer_id)
        if offer.made_by == actor.role:
            raise Problem("conflict", "An offer is accepted by the other party")
        made = (offer.made_by_id, offer.made_at)
        accepted = (actor.id, now)
        consumer, enterprise = (accepted, made) if actor.role == "consumer" else (made, accepted)
        agreement = await settle(session, outbox=outbox, cipher=cipher, case=case, offer=offer, actor=actor,
                                 consumer_consent=consumer, enterprise_consent=enterprise, at=now)
        return Answer(case=case, offer=offer, agreement=agreement)


async def reject_offer(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       offer_id: uuid.UUID,
                       principal: Principal, body: OfferReject, now: datetime) -> Answer:
    """The consumer rejects an offer, optionally countering it or asking for the regulator (negotiation fails)."""
    if body.counter is not None:
        _check_fulfil_by(body.counter, local_date(now))
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "consumer")
        require_open_for_offers(CaseStatus(case.status))
        offer = await _offer_of(session, case, offer_id)
        if offer.made_by == actor.role:
            raise Problem("conflict", "An offer is rejected by the other party")
        if body.escalate and case.stage != Stage.NEGOTIATION.value:
            raise Problem("conflict", "The case is already with the regulator")
        await _answer(session, outbox=outbox, cipher=cipher, case=case, offer=offer, actor=actor,
                      status=OfferStatus.REJECTED,
                      at=now, note=body.note)
        counter = None
        if body.counter is not None:
            counter = await _put_on_table(session, outbox=outbox, cipher=cipher, case=case, actor=actor,
                                          party=Party.CONSUMER,
                                          terms=body.counter, at=now, counter_to=offer.id)
        if body.escalate:
            await fail_negotiation(session, outbox=outbox, cipher=cipher, case=case, actor=actor,
                                   reason="consumer_escalated", at=now, note=body.note)
        return Answer(case=case, offer=offer, counter=counter)


async def decline_case(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       principal: Principal,
                       note: str | None, now: datetime) -> MediationCase:
    """The enterprise will not settle: negotiation fails and the complaint goes to the regulator."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "enterprise")
        await fail_negotiation(session, outbox=outbox, cipher=cipher, case=case, actor=actor,
                               reason="enterprise_declined",
                               at=now, note=note)
        return case


async def lapse_open_offer(session: AsyncSession, case: MediationCase, at: datetime) -> None:
    """An offer still open when the case stops negotiating can no longer be accepted."""
    offer = (await session.execute(select(Offer).where(Offer.case_id == case.id,
                                                       Offer.status == OfferStatus.OPEN.value))).scalar_one_or_none()
    if offer is not None:
        offer.status = OfferStatus.LAPSED.value
        offer.answered_at = at


async def fail_negotiation(session: AsyncSession, *, outbox: Outbox, case: MediationCase, actor: Actor,
                           reason: str, at: datetime, note: str | None = None, cipher: PiiCipher | None = None,
                           cause: EventEnvelope | None = None) -> None:
    """Negotiation ended without agreement (declined, escalated, deadline passed): on to regulator intake."""
    case.status = transition(CaseStatus(case.status), CaseStatus.FAILED).value
    case.failure_reason = reason
    await lapse_open_offer(session, case, at)
    await trail.record(session, case, kind="negotiation_failed", actor=actor, at=at,
                       details={"reason": reason, "note": note}, cipher=cipher)
    await outbox.add(session, trail.envelope(NegotiationFailed(**trail.event_fields(case, at), reason=reason), cause))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="negotiation_failed", at=at,
                       details={"complaint_id": str(case.complaint_id), "reason": reason, "actor": actor.role})
    trail.notify(session, case.id, "status")


async def settle(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case: MediationCase, offer: Offer,
                 actor: Actor, consumer_consent: tuple[str, datetime], enterprise_consent: tuple[str, datetime],
                 at: datetime,
                 document_no: str | None = None) -> SettlementAgreement:
    """Turn the accepted offer into the case's settlement agreement and close the case as settled."""
    case.status = transition(CaseStatus(case.status), CaseStatus.SETTLED).value
    case.closed_at = at
    offer.status = OfferStatus.ACCEPTED.value
    offer.answered_at = at
    offer.answered_by_id = actor.id
    agreement_id = new_id()
    agreement = SettlementAgreement(
        id=agreement_id, case_id=case.id, offer_id=offer.id, stage=case.stage,
        terms=sealed_terms(cipher, agreement_id, {
            "offer_type": offer.offer_type, "amount_fen": offer.amount_fen,
            "fulfil_by": offer.fulfil_by.isoformat() if offer.fulfil_by else None,
            "note": opened_offer_note(cipher, offer)}),
        amount_fen=offer.amount_fen or 0, fulfil_by=offer.fulfil_by,
        consumer_consent_by=consumer_consent[0], consumer_consent_at=consumer_consent[1],
        enterprise_consent_by=enterprise_consent[0], enterprise_consent_at=enterprise_consent[1],
        document_no=document_no, mediator_id=case.mediator_id if case.stage == Stage.MEDIATION.value else None,
        content_hash="", created_at=at,
    )
    agreement.content_hash = agreement_hash(agreement, case, cipher)
    session.add(agreement)
    await session.flush()
    await trail.record(session, case, kind="settled", actor=actor, at=at,
                       details={"agreement_id": str(agreement.id), "offer_id": str(offer.id),
                                "content_hash": agreement.content_hash})
    await outbox.add(session, trail.envelope(CaseSettled(
        **trail.event_fields(case, at), stage=case.stage, agreement_id=agreement.id,
        agreement_hash=agreement.content_hash, amount_fen=agreement.amount_fen, fulfil_by=agreement.fulfil_by,
        document_no=agreement.document_no,
    ), None))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="settled", at=at, details={
        "complaint_id": str(case.complaint_id), "stage": case.stage, "agreement_id": str(agreement.id),
        "agreement_hash": agreement.content_hash, "amount_fen": agreement.amount_fen})
    await signals.on_settled(session, case=case, agreement=agreement, at=at)
    trail.notify(session, case.id, "status")
    return agreement


async def offers_of(session: AsyncSession, case_id: uuid.UUID) -> list[Offer]:
    """Every offer of the case, oldest first."""
    return list((await session.execute(select(Offer).where(Offer.case_id == case_id).order_by(Offer.id))).scalars())


async def expire_negotiations(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox,
                              now: datetime) -> int:
    """Fail every negotiation whose last day has passed (reason deadline_passed); how many failed."""
    today, expired = local_date(now), 0
    while True:
        async with sessionmaker() as session, session.begin():
            cases = list((await session.execute(
                select(MediationCase)
                .where(MediationCase.status == CaseStatus.NEGOTIATING.value, MediationCase.due_date < today)
                .order_by(MediationCase.id).limit(BATCH).with_for_update(skip_locked=True))).scalars())
            for case in cases:
                await fail_negotiation(session, outbox=outbox, case=case, actor=SYSTEM,
                                       reason="deadline_passed", at=now)
        expired += len(cases)
        if len(cases) < BATCH:
            return expired
