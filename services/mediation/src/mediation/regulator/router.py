"""Regulator mediation endpoints: staff of the case's region and the assigned mediator."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from mediation.agreements.schemas import AgreementRead, agreement_read
from mediation.cases.models import MediationCase
from mediation.dependencies import OutboxDep, SettingsDep
from mediation.regulator import service as regulator_service
from mediation.regulator.schemas import (
    MediationAgreementCreate,
    MediationStateRead,
    MediatorAssign,
    PauseRequest,
    RecusalDecision,
    RecusalRequest,
    Termination,
    TerminationRead,
)
from servicekit.auth import RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession

router = APIRouter(prefix="/v1/regulator/cases", tags=["regulator mediation"])


def state_read(case: MediationCase) -> MediationStateRead:
    return MediationStateRead(case_status=case.status, mediation_due_date=case.mediation_due_date,
                              paused=case.paused_at is not None, mediator_kind=case.mediator_kind,
                              mediator_id=case.mediator_id, delegated=case.delegated)


@router.post("/{case_id}/assign", summary="Assign the mediator: regulator staff, or by delegation (Art. 19)")
async def assign_mediator(case_id: uuid.UUID, body: MediatorAssign, principal: RegulatorPrincipal,
                          session: DbSession, outbox: OutboxDep) -> MediationStateRead:
    """Delegation needs both parties' consent; a delegated case is never delegated again (409)."""
    return state_read(await regulator_service.assign_mediator(session, outbox=outbox, case_id=case_id,
                                                              principal=principal, assignment=body, now=utcnow()))


@router.post("/{case_id}/appraisal/pause", summary="Stop the 60-day clock for testing or appraisal (Art. 22)")
async def pause_for_appraisal(case_id: uuid.UUID, body: PauseRequest, principal: RegulatorPrincipal,
                              session: DbSession, outbox: OutboxDep, cipher: Cipher) -> MediationStateRead:
    """409 when already paused."""
    return state_read(await regulator_service.pause_for_appraisal(session, outbox=outbox, cipher=cipher,
                                                                  case_id=case_id, principal=principal,
                                                                  note=body.note, now=utcnow()))


@router.post("/{case_id}/appraisal/resume", summary="Restart the clock; the paused days move its due date")
async def resume_after_appraisal(case_id: uuid.UUID, body: PauseRequest, principal: RegulatorPrincipal,
                                 session: DbSession, outbox: OutboxDep, settings: SettingsDep,
                                 cipher: Cipher) -> MediationStateRead:
    """409 when not paused."""
    return state_read(await regulator_service.resume_after_appraisal(
        session, outbox=outbox, cipher=cipher, settings=settings, case_id=case_id, principal=principal, note=body.note,
        now=utcnow()))


@router.post("/{case_id}/recusal", summary="Record a party's recusal request: mediation is suspended (Art. 21)")
async def request_recusal(case_id: uuid.UUID, body: RecusalRequest, principal: RegulatorPrincipal,
                          session: DbSession, outbox: OutboxDep, cipher: Cipher) -> MediationStateRead:
    """The case becomes suspended and its clock stops."""
    return state_read(await regulator_service.request_recusal(session, outbox=outbox, cipher=cipher, case_id=case_id,
                                                              principal=principal, request=body, now=utcnow()))


@router.post("/{case_id}/recusal/decision", summary="Decide the recusal request: mediation resumes")
async def decide_recusal(case_id: uuid.UUID, body: RecusalDecision, principal: RegulatorPrincipal,
                         session: DbSession, outbox: OutboxDep, settings: SettingsDep,
                         cipher: Cipher) -> MediationStateRead:
    """Upheld: the mediator is removed and a new one must be assigned."""
    return state_read(await regulator_service.decide_recusal(session, outbox=outbox, cipher=cipher, settings=settings,
                                                             case_id=case_id, principal=principal, decision=body,
                                                             now=utcnow()))


@router.post("/{case_id}/agreement", status_code=status.HTTP_201_CREATED,
             summary="Record the mediation agreement both parties signed (mediation document, Art. 24)")
async def record_agreement(case_id: uuid.UUID, body: MediationAgreementCreate, principal: RegulatorPrincipal,
                           session: DbSession, outbox: OutboxDep, cipher: Cipher) -> AgreementRead:
    """The case settles at the mediation stage; only its assigned mediator may record this."""
    return agreement_read(await regulator_service.record_mediation_agreement(
        session, outbox=outbox, cipher=cipher, case_id=case_id, principal=principal, body=body, now=utcnow()), cipher)


@router.post("/{case_id}/terminate", summary="Terminate mediation on an Art. 23 ground (1..8)")
async def terminate(case_id: uuid.UUID, body: Termination, principal: RegulatorPrincipal, session: DbSession,
                    outbox: OutboxDep, settings: SettingsDep, cipher: Cipher) -> TerminationRead:
    """Both parties are to be notified within 7 working days (`notice_due`)."""
    case, notice_due = await regulator_service.terminate_mediation(
        session, outbox=outbox, cipher=cipher, settings=settings, case_id=case_id, principal=principal,
        ground=body.ground, note=body.note, now=utcnow())
    return TerminationRead(case_status=case.status, ground=body.ground, notice_due=notice_due)
