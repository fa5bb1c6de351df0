"""Regulators suspend, reinstate and revoke the ODR enterprises of their regions."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from merchants.dependencies import Regulator
from merchants.enrollment import service as enrollment_service
from merchants.enrollment.schemas import EnrollmentRead, EnterpriseList, Reason
from merchants.enrollment.service import Actor
from merchants.enrollment.state import EnrollmentAction, EnrollmentStatus
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/regulator/merchants", tags=["regulator: ODR enterprises"])


async def _act(action: EnrollmentAction, merchant_id: uuid.UUID, body: Reason, principal: Regulator,
               session: DbSession, runtime: Runtime) -> EnrollmentRead:
    enrollment = await enrollment_service.change_status(
        session, outbox=runtime.outbox, merchant_id=merchant_id, action=action,
        actor=Actor(role="regulator", id=principal.sub), reason=body.reason, may_act=principal.governs,
        cipher=runtime.cipher)
    return EnrollmentRead(merchant_id=enrollment.merchant_id, status=enrollment.status)


@router.get("", response_model=EnterpriseList, summary="ODR enterprises of my regions",
            responses=problem_responses(401, 403, 422))
async def list_enterprises(
    principal: Regulator,
    session: DbSession,
    cipher: Cipher,
    status: Literal["approved", "suspended", "revoked"] | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="Part of the name, or the start of the credit code")] = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> EnterpriseList:
    """Every enterprise ever approved in the regions I govern, with its enrollment status and the latest change
    (when, by whom, why); pending and rejected applicants are under `/v1/regulator/odr-applications`."""
    return await enrollment_service.list_enterprises(
        session, principal=principal, status=EnrollmentStatus(status) if status else None, search=q,
        cursor=cursor, limit=limit, cipher=cipher)


@router.post("/{merchant_id}/suspend", response_model=EnrollmentRead, summary="Suspend an ODR enterprise",
             responses=problem_responses(401, 403, 404, 409, 422))
async def suspend(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                  runtime: Runtime) -> EnrollmentRead:
    """Complaints stop being routed to it and its tokens stop working within seconds."""
    return await _act(EnrollmentAction.SUSPEND, merchant_id, body, principal, session, runtime)


@router.post("/{merchant_id}/reinstate", response_model=EnrollmentRead, summary="Reinstate a suspended enterprise",
             responses=problem_responses(401, 403, 404, 409, 422))
async def reinstate(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                    runtime: Runtime) -> EnrollmentRead:
    """Back to approved: routing and its credentials work again."""
    return await _act(EnrollmentAction.REINSTATE, merchant_id, body, principal, session, runtime)


@router.post("/{merchant_id}/revoke", response_model=EnrollmentRead, summary="Revoke ODR status for good",
             responses=problem_responses(401, 403, 404, 409, 422))
async def revoke(merchant_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                 runtime: Runtime) -> EnrollmentRead:
    """Final: its API clients are revoked and it cannot apply again."""
    return await _act(EnrollmentAction.REVOKE, merchant_id, body, principal, session, runtime)
