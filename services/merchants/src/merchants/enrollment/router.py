"""Regulators suspend, reinstate and revoke the ODR enterprises of their regions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from merchants.dependencies import Regulator
from merchants.enrollment import service as enrollment_service
from merchants.enrollment.schemas import EnrollmentRead, Reason
from merchants.enrollment.service import Actor
from merchants.enrollment.state import EnrollmentAction
from servicekit.dependencies import DbSession, Runtime

router = APIRouter(prefix="/v1/regulator/merchants", tags=["regulator: ODR enterprises"])


async def _act(action: EnrollmentAction, merchant_id: uuid.UUID, body: Reason, principal: Regulator,
               session: DbSession, runtime: Runtime) -> EnrollmentRead:
    enrollment = await enrollment_service.change_status(
        session, outbox=runtime.outbox, merchant_id=merchant_id, action=action,
        actor=Actor(role="regulator", id=principal.sub), reason=body.reason, may_act=principal.governs)
    return EnrollmentRead(merchant_id=enrollment.merchant_id, status=enrollment.status)


@router.post("/{merchant_id}/suspend", response_model=EnrollmentRead, summary="Suspend an ODR enterprise",
             responses={409: {"description": "Not approved"}})
async def suspend(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                  runtime: Runtime) -> EnrollmentRead:
    """Complaints stop being routed to it and its tokens stop working within seconds."""
    return await _act(EnrollmentAction.SUSPEND, merchant_id, body, principal, session, runtime)


@router.post("/{merchant_id}/reinstate", response_model=EnrollmentRead, summary="Reinstate a suspended enterprise",
             responses={409: {"description": "Not suspended"}})
async def reinstate(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                    runtime: Runtime) -> EnrollmentRead:
    """Back to approved: routing and its credentials work again."""
    return await _act(EnrollmentAction.REINSTATE, merchant_id, body, principal, session, runtime)


@router.post("/{merchant_id}/revoke", response_model=EnrollmentRead, summary="Revoke ODR status for good",
             responses={409: {"description": "Already revoked, or never approved"}})
async def revoke(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                 runtime: Runtime) -> EnrollmentRead:
    """Final: its API clients are revoked and it cannot apply again."""
    return await _act(EnrollmentAction.REVOKE, merchant_id, body, principal, session, runtime)
