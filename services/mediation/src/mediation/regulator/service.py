"""Regulator mediation: opening from acceptance, the mediator, the 60-day clock and its pauses, the outcomes."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.agreements.models import SettlementAgreement
from mediation.audit import chain
from mediation.cases import service as cases_service
from mediation.cases import trail
from mediation.cases.access import SYSTEM, Actor, load_case_for
from mediation.cases.models import (
    MediationCase,
    complainant_name_context,
    facts_context,
    termination_note_context,
)
from mediation.cases.state import FINAL, CaseStatus, Stage, transition
from mediation.negotiation import service as negotiation_service
from mediation.negotiation.models import Offer, OfferStatus, Party, sealed_offer_note
from mediation.outcomes import signals
from mediation.regulator.models import PartyNotification
from mediation.regulator.schemas import (
    DELEGATES,
    MediationAgreementCreate,
    MediatorAssign,
    RecusalDecision,
    RecusalRequest,
)
from mediation.settings import EVENT_SOURCE, MediationSettings
from servicekit import regions
from servicekit.auth import Principal, Role
from servicekit.calendar import add_calendar_days, add_working_days, local_date
from servicekit.contracts.complaints_v1 import ComplaintAccepted, ComplaintWithdrawn
from servicekit.contracts.mediation_v1 import (
    CaseOpened,
    CaseTerminated,
    MediationClockPaused,
    MediationClockResumed,
    MediatorAssigned,
)
from servicekit.db import new_id
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

CONSUMER_GROUP_ACTOR = Actor("system", "mediation.on-complaints")
WITHDRAWAL_GROUND = 1
TIME_CAP_GROUND = 5
BATCH = 100


def mediation_due_date(accepted_at: datetime, *, days: int, paused_days: int) -> date:
    """Acceptance day not counted (Art. 45), paused days added back, a last day on a holiday moved past it."""
    return add_calendar_days(local_date(accepted_at), days + paused_days)


async def _case_of_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> MediationCase | None:
    return (await session.execute(select(MediationCase).where(MediationCase.complaint_id == complaint_id)
                                  .with_for_update().execution_options(populate_existing=True))
            ).scalar_one_or_none()


async def open_mediation(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                         accepted: ComplaintAccepted, cause: EventEnvelope) -> uuid.UUID | None:
    """The regulator accepted the complaint: its negotiation case moves to mediation, or a new case opens."""
    case = await _case_of_complaint(session, accepted.complaint_id)
    if case is None:
        case_id = new_id()
        inserted = await session.execute(insert(MediationCase).values(
            id=case_id, complaint_id=accepted.complaint_id, case_no=accepted.case_no,
            merchant_id=accepted.merchant_id, consumer_id=accepted.consumer_id, region_code=accepted.region_code,
            status=CaseStatus.MEDIATING.value, stage=Stage.MEDIATION.value,
            complainant_name=cipher.encrypt(accepted.complainant.full_name(cipher, complaint_id=accepted.complaint_id),
                                            context=complainant_name_context(case_id)),
            complainant_phone_masked=accepted.complainant.phone_masked, request_type=accepted.request_type,
            request_amount_fen=accepted.request_amount_fen,
            facts_enc=cipher.encrypt(accepted.facts_text(cipher, complaint_id=accepted.complaint_id),
                                     context=facts_context(case_id)),
            opened_at=accepted.accepted_at,
            version=1, **cases_service.answer_columns(accepted),
        ).on_conflict_do_nothing(index_elements=[MediationCase.complaint_id]).returning(MediationCase.id))
        if inserted.first() is None:
            return None
        case = await _case_of_complaint(session, accepted.complaint_id)
        assert case is not None
    elif CaseStatus(case.status) in FINAL or case.stage == Stage.MEDIATION.value:
        # Already mediating (a redelivery) or already over: nothing to reopen.
        return None
    else:
        case.status = transition(CaseStatus(case.status), CaseStatus.MEDIATING).value
        case.stage = Stage.MEDIATION.value
        await negotiation_service.lapse_open_offer(session, case, accepted.accepted_at)
    case.accepted_at = accepted.accepted_at
    case.mediation_due_date = mediation_due_date(accepted.accepted_at, days=settings.mediation_days, paused_days=0)
    await session.flush()
    await trail.record(session, case, kind="mediation_opened", actor=CONSUMER_GROUP_ACTOR, at=accepted.accepted_at,
                       details={"accepted_by": accepted.accepted_by, "cause": str(cause.id),
                                "mediation_due_date": case.mediation_due_date.isoformat()})
    await outbox.add(session, trail.envelope(CaseOpened(
        case_id=case.id, complaint_id=case.complaint_id, merchant_id=case.merchant_id, region_code=case.region_code,
        status=case.status, due_date=case.mediation_due_date, opened_at=accepted.accepted_at), cause))
    trail.notify(session, case.id, "status")
    return case.id


async def close_on_withdrawal(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                              withdrawn: ComplaintWithdrawn, cause: EventEnvelope) -> bool:
    """The consumer withdrew the complaint: any open case ends on ground 1; True if one did."""
    case = await _case_of_complaint(session, withdrawn.complaint_id)
    if case is None or CaseStatus(case.status) in FINAL:
        return False
    await terminate(session, outbox=outbox, cipher=cipher, case=case, actor=CONSUMER_GROUP_ACTOR,
                    ground=WITHDRAWAL_GROUND, note="complaint withdrawn", at=withdrawn.withdrawn_at,
                    notice_working_days=settings.termination_notice_working_days, cause=cause)
    return True


def _require_staff(principal: Principal) -> None:
    if Role.REGULATOR not in principal.roles:
        raise Problem("forbidden", "Only regulator staff may do this; a mediator cannot pass a case on")


def _require_mediating(case: MediationCase, *allowed: CaseStatus) -> None:
    if case.stage != Stage.MEDIATION.value or CaseStatus(case.status) not in allowed:
        raise Problem("conflict", f"A case that is {case.status} in {case.stage} cannot do this",
                      current_status=case.status)


def _require_mediator_or_staff(actor: Actor) -> None:
    if actor.role not in ("mediator", "regulator"):
        raise Problem("forbidden", "Only the case's mediator or regulator staff may do this")


async def assign_mediator(session: AsyncSession, *, outbox: Outbox, case_id: uuid.UUID, principal: Principal,
                          assignment: MediatorAssign, now: datetime) -> MediationCase:
    """Staff of the case's region assign a mediator; a delegate never receives a case from another delegate."""
    _require_staff(principal)
    async with session.begin():
        # Staff of the region (404 for anyone else), even when they mediate the case themselves.
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediating(case, CaseStatus.MEDIATING, CaseStatus.SUSPENDED)
        if not regions.contains(assignment.mediator_region, case.region_code):
            raise Problem("validation-error", errors=[{
                "field": "body.mediator_region", "message": "The mediator's region does not cover the case",
                "code": "region_mismatch"}])
        if assignment.mediator_kind in DELEGATES and case.delegated:
            raise Problem("conflict", "A delegated case is never delegated again (Art. 19)")
        case.mediator_kind = assignment.mediator_kind.value
        case.mediator_id = assignment.mediator_id
        case.mediator_region = assignment.mediator_region
        case.delegated = assignment.mediator_kind in DELEGATES
        await trail.record(session, case, kind="mediator_assigned", actor=actor, at=now, details={
            "mediator_kind": case.mediator_kind, "mediator_id": case.mediator_id,
            "mediator_region": case.mediator_region, "parties_consented": assignment.parties_consented})
        await outbox.add(session, MediatorAssigned(
            **trail.event_fields(case, now), mediator_kind=case.mediator_kind, mediator_id=case.mediator_id,
            delegated=case.delegated).envelope(source=EVENT_SOURCE))
        trail.notify(session, case.id, "status")
        return case


async def _stop_clock(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case: MediationCase,
                      actor: Actor, cause: str, at: datetime, details: dict[str, object]) -> None:
    case.paused_at = at
    await trail.record(session, case, kind=f"clock_paused_{cause}", actor=actor, at=at, details=details,
                       cipher=cipher)
    await outbox.add(session, MediationClockPaused(**trail.event_fields(case, at), cause=cause)
                     .envelope(source=EVENT_SOURCE))


async def _restart_clock(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                         case: MediationCase, actor: Actor, cause: str, at: datetime,
                         details: dict[str, object]) -> None:
    assert case.paused_at is not None
    assert case.accepted_at is not None
    # Calendar days the clock stood still are excluded from the 60 (Art. 22).
    case.paused_days += (local_date(at) - local_date(case.paused_at)).days
    case.paused_at = None
    case.mediation_due_date = mediation_due_date(case.accepted_at, days=settings.mediation_days,
                                                 paused_days=case.paused_days)
    await trail.record(session, case, kind=f"clock_resumed_{cause}", actor=actor, at=at, details={
        **details, "paused_days": case.paused_days, "mediation_due_date": case.mediation_due_date.isoformat()},
        cipher=cipher)
    await outbox.add(session, MediationClockResumed(**trail.event_fields(case, at), cause=cause,
                                                    mediation_due_date=case.mediation_due_date)
                     .envelope(source=EVENT_SOURCE))


async def pause_for_appraisal(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                              principal: Principal,
                              note: str | None, now: datetime) -> MediationCase:
    """Testing or appraisal begins: its time does not count toward the 60 days."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediator_or_staff(actor)
        _require_mediating(case, CaseStatus.MEDIATING)
        if case.paused_at is not None:
            raise Problem("conflict", "The mediation clock is already paused")
        await _stop_clock(session, outbox=outbox, cipher=cipher, case=case, actor=actor, cause="appraisal", at=now,
                          details={"note": note})
        return case


async def resume_after_appraisal(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher,
                                 settings: MediationSettings,
                                 case_id: uuid.UUID, principal: Principal, note: str | None,
                                 now: datetime) -> MediationCase:
    """Appraisal is over: the clock runs again and its due date moves by the days it stood still."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediator_or_staff(actor)
        _require_mediating(case, CaseStatus.MEDIATING)
        if case.paused_at is None:
            raise Problem("conflict", "The mediation clock is not paused")
        await _restart_clock(session, outbox=outbox, cipher=cipher, settings=settings, case=case, actor=actor,
                             cause="appraisal",
                             at=now, details={"note": note})
        return case


async def request_recusal(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                          principal: Principal,
                          request: RecusalRequest, now: datetime) -> MediationCase:
    """A party asks the mediator to step aside: mediation is suspended (Art. 21) and its clock stops."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediator_or_staff(actor)
        _require_mediating(case, CaseStatus.MEDIATING)
        if case.paused_at is not None:
            raise Problem("conflict", "Resume the appraisal pause before suspending for recusal")
        case.status = transition(CaseStatus(case.status), CaseStatus.SUSPENDED).value
        await _stop_clock(session, outbox=outbox, cipher=cipher, case=case, actor=actor, cause="recusal", at=now,
                          details={
            "requested_by": request.requested_by.value, "mediator_id": case.mediator_id, "note": request.note})
        trail.notify(session, case.id, "status")
        return case


async def decide_recusal(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                         case_id: uuid.UUID,
                         principal: Principal, decision: RecusalDecision, now: datetime) -> MediationCase:
    """Staff decide the recusal: mediation resumes; an upheld request removes the mediator."""
    _require_staff(principal)
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediating(case, CaseStatus.SUSPENDED)
        case.status = transition(CaseStatus(case.status), CaseStatus.MEDIATING).value
        removed = case.mediator_id if decision.upheld else None
        if decision.upheld:
            case.mediator_kind = case.mediator_id = case.mediator_region = None
            case.delegated = False
        await _restart_clock(session, outbox=outbox, cipher=cipher, settings=settings, case=case, actor=actor,
                             cause="recusal",
                             at=now, details={"upheld": decision.upheld, "removed_mediator": removed,
                                              "note": decision.note})
        trail.notify(session, case.id, "status")
        return case


async def record_mediation_agreement(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                                     principal: Principal, body: MediationAgreementCreate,
                                     now: datetime) -> SettlementAgreement:
    """The mediator records the agreement both parties signed (the mediation document): the case settles."""
    if max(body.consumer_consent_at, body.enterprise_consent_at) > now:
        raise Problem("validation-error", errors=[{"field": "body", "message": "A consent lies in the future",
                                                   "code": "consent_in_future"}])
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        if actor.role != "mediator":
            raise Problem("forbidden", "Only the case's assigned mediator records its agreement")
        _require_mediating(case, CaseStatus.MEDIATING)
        await negotiation_service.lapse_open_offer(session, case, now)
        await session.flush()
        offer_id = new_id()
        offer = Offer(id=offer_id, case_id=case.id, made_by=Party.MEDIATOR.value, made_by_id=actor.id,
                      offer_type=body.type.value, amount_fen=body.amount_fen, fulfil_by=body.fulfil_by,
                      note_enc=sealed_offer_note(cipher, offer_id, body.note), status=OfferStatus.OPEN.value,
                      made_at=now)
        session.add(offer)
        await session.flush()
        enterprise = str(case.merchant_id) if case.merchant_id else "respondent"
        return await negotiation_service.settle(session, outbox=outbox, cipher=cipher, case=case, offer=offer,
                                                actor=actor,
                                                consumer_consent=(case.consumer_id, body.consumer_consent_at),
                                                enterprise_consent=(enterprise, body.enterprise_consent_at), at=now,
                                                document_no=body.document_no)


async def terminate(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case: MediationCase, actor: Actor,
                    ground: int, note: str | None, at: datetime, notice_working_days: int,
                    cause: EventEnvelope | None = None) -> date:
    """End the case without agreement on an Art. 23 ground; both parties are owed a notice within N working days."""
    case.status = transition(CaseStatus(case.status), CaseStatus.TERMINATED).value
    case.termination_ground = ground
    case.termination_note_enc = (cipher.encrypt(note, context=termination_note_context(case.id))
                                 if note is not None else None)
    case.closed_at = at
    await negotiation_service.lapse_open_offer(session, case, at)
    notice_due = add_working_days(local_date(at), notice_working_days)
    session.add_all([PartyNotification(id=new_id(), case_id=case.id, party=party, kind="termination",
                                       due_date=notice_due, created_at=at) for party in ("consumer", "enterprise")])
    await trail.record(session, case, kind="terminated", actor=actor, at=at,
                       details={"ground": ground, "note": note, "notice_due": notice_due.isoformat()}, cipher=cipher)
    await outbox.add(session, trail.envelope(CaseTerminated(
        **trail.event_fields(case, at), ground=ground, notice_due=notice_due,
        note_sealed=CaseTerminated.seal_note(cipher, case_id=case.id, note=note) if note is not None else None),
        cause))
    await chain.append(session, region_code=case.region_code, case_id=case.id, kind="terminated", at=at, details={
        "complaint_id": str(case.complaint_id), "stage": case.stage, "ground": ground, "actor": actor.role})
    await signals.on_terminated(session, case=case, ground=ground, at=at)
    trail.notify(session, case.id, "status")
    return notice_due


async def terminate_mediation(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                              case_id: uuid.UUID, principal: Principal, ground: int, note: str | None,
                              now: datetime) -> tuple[MediationCase, date]:
    """End mediation on an Art. 23 ground; both parties are owed a notice within 7 working days."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require_mediator_or_staff(actor)
        _require_mediating(case, CaseStatus.MEDIATING, CaseStatus.SUSPENDED)
        notice_due = await terminate(session, outbox=outbox, cipher=cipher, case=case, actor=actor, ground=ground,
                                     note=note, at=now,
                                     notice_working_days=settings.termination_notice_working_days)
        return case, notice_due


async def expire_mediations(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox, cipher: PiiCipher,
                            settings: MediationSettings, now: datetime) -> int:
    """Terminate mediations past their 60th counted day without agreement (ground 5); paused clocks wait."""
    today, expired = local_date(now), 0
    while True:
        async with sessionmaker() as session, session.begin():
            cases = list((await session.execute(
                select(MediationCase)
                .where(MediationCase.status == CaseStatus.MEDIATING.value, MediationCase.paused_at.is_(None),
                       MediationCase.mediation_due_date < today)
                .order_by(MediationCase.id).limit(BATCH).with_for_update(skip_locked=True))).scalars())
            for case in cases:
                await terminate(session, outbox=outbox, cipher=cipher, case=case, actor=SYSTEM, ground=TIME_CAP_GROUND,
                                note="no agreement within the mediation period", at=now,
                                notice_working_days=settings.termination_notice_working_days)
        expired += len(cases)
        if len(cases) < BATCH:
            return expired

