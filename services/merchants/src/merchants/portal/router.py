"""The enterprise portal's accounts: the admin manages colleagues; anyone activates with their one-time code."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from merchants.dependencies import PortalAdmin, Settings
from merchants.portal import service as portal_service
from merchants.portal.schemas import (
    Activated,
    Activation,
    ActivationIssued,
    PortalUserCreate,
    PortalUserList,
    PortalUserRead,
)
from merchants.portal.service import IssuedActivation, read_of
from merchants.portal.state import status_of
from servicekit.dependencies import DbSession, Runtime
from servicekit.problems import problem_responses, raises
from servicekit.ratelimit import TokenBuckets, forwarded_client_address

merchant_router = APIRouter(prefix="/v1/merchant/portal-users", tags=["merchant: portal accounts"])
public_router = APIRouter(prefix="/v1/public/portal-activation", tags=["public: portal accounts"])

ACTIVATION_LIMITS = "portal_activation_limits"
# Codes carry about 79 bits and expire, so guessing is hopeless anyway; the bucket keeps the scrypt work bounded.
ACTIVATIONS_PER_MINUTE = 10.0
ACTIVATION_BURST = 10


@raises(429)
async def limit_activations(request: Request, runtime: Runtime) -> None:
    """Dependency: a token bucket per client address, taken before the body is even validated."""
    buckets = runtime.extras.get(ACTIVATION_LIMITS)
    if buckets is None:
        buckets = runtime.extras[ACTIVATION_LIMITS] = TokenBuckets(rate=ACTIVATIONS_PER_MINUTE / 60,
                                                                   burst=ACTIVATION_BURST)
    buckets.take_or_refuse(forwarded_client_address(request), "Too many activation attempts; try again later")


def _issued(issued: IssuedActivation, status_code: int) -> JSONResponse:
    body = ActivationIssued(user=read_of(issued.account), activation_code=issued.code,
                            activation_expires_at=issued.expires_at)
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers={"Cache-Control": "no-store"})


@public_router.post("", response_model=Activated, summary="First sign-in: exchange an activation code for a password",
                    dependencies=[Depends(limit_activations)], responses=problem_responses(401, 422, 429))
async def activate(body: Activation, session: DbSession) -> Activated:
    """The person chooses their password with the one-time code they were given (by the credentials link on
    approval, or by their admin); then they sign in with `grant_type=password`. One 401 for every bad code."""
    account = await portal_service.activate(session, username=body.username, code=body.activation_code,
                                            password=body.password)
    return Activated(username=account.username, status=status_of(account))


@merchant_router.get("", response_model=PortalUserList, summary="The enterprise's portal accounts (admin)",
                     responses=problem_responses(403))
async def list_users(principal: PortalAdmin, session: DbSession) -> PortalUserList:
    """Every colleague's account with its role and status, oldest first."""
    assert principal.merchant_id is not None
    return PortalUserList(items=await portal_service.list_users(session, merchant_id=principal.merchant_id))


@merchant_router.post("", status_code=201, response_model=ActivationIssued,
                      summary="Add a colleague (admin); the answer carries their activation code, once",
                      responses=problem_responses(403, 409, 422))
async def add_user(body: PortalUserCreate, principal: PortalAdmin, session: DbSession,
                   settings: Settings) -> JSONResponse:
    """The admin hands the code to the colleague, who chooses a password with it at first sign-in."""
    issued = await portal_service.add_user(session, principal=principal, body=body,
                                           ttl=timedelta(seconds=settings.portal_activation_ttl_seconds))
    return _issued(issued, 201)


@merchant_router.post("/{account_id}/disable", response_model=PortalUserRead,
                      summary="Disable a colleague's account (admin)", responses=problem_responses(403, 404, 409))
async def disable_user(account_id: uuid.UUID, principal: PortalAdmin, session: DbSession) -> PortalUserRead:
    """The colleague can no longer sign in, and tokens already issued stop working within seconds."""
    return await portal_service.disable_user(session, principal=principal, account_id=account_id)


@merchant_router.post("/{account_id}/reset", response_model=ActivationIssued,
                      summary="Reset (or re-enable) a colleague's account with a new activation code (admin)",
                      responses=problem_responses(403, 404, 409))
async def reset_user(account_id: uuid.UUID, principal: PortalAdmin, session: DbSession,
                     settings: Settings) -> JSONResponse:
    """The old password stops working at once; the colleague chooses a new one with the code, shown here once."""
    issued = await portal_service.reset_user(session, principal=principal, account_id=account_id,
                                             ttl=timedelta(seconds=settings.portal_activation_ttl_seconds))
    return _issued(issued, 200)
