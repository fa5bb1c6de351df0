"""Access: the gateway's grant check and revocation check (internal), and credential rotation by the enterprise."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from merchants.access import service as access_service
from merchants.access.schemas import (
    ClientCredentialsGrant,
    ClientStatus,
    CredentialsVerify,
    EnterpriseClaims,
    PortalUserClaims,
    PortalUserStatus,
    RotatedCredentials,
    StaffClaims,
)
from merchants.credentials import service as credentials_service
from merchants.dependencies import EnterpriseManager, Settings
from merchants.portal import service as portal_service
from servicekit.auth import Role, require_internal
from servicekit.dependencies import Cipher, DbSession
from servicekit.problems import Problem, problem_responses

router = APIRouter(prefix="/internal/v1/credentials", tags=["internal"], dependencies=[Depends(require_internal)])
principals_router = APIRouter(prefix="/internal/v1/principals", tags=["internal"],
                              dependencies=[Depends(require_internal)])
merchant_router = APIRouter(prefix="/v1/merchant/credentials", tags=["merchant: credentials"])

INVALID_GRANT = "The credentials are not valid"


@router.post("/verify", summary="Check a client_credentials or password grant and return the token claims",
             responses=problem_responses(401, 403, 422))
async def verify_credentials(body: CredentialsVerify, session: DbSession, settings: Settings,
                             cipher: Cipher) -> EnterpriseClaims | PortalUserClaims | StaffClaims:
    """200 with the claims when the grant is good; one indistinguishable 401 for every failure (unknown, wrong,
    disabled or locked: architecture §5); 403 `mfa-required` when the password was right and the account's TOTP
    code is missing."""
    if isinstance(body, ClientCredentialsGrant):
        enterprise = await access_service.verify_client_credentials(
            session, client_id=body.client_id, client_secret=body.client_secret)
        if enterprise is None:
            raise Problem("unauthenticated", INVALID_GRANT)
        return EnterpriseClaims(sub=enterprise.client_id, roles=[Role.ENTERPRISE.value],
                                merchant_id=enterprise.merchant_id, client_id=enterprise.client_id,
                                region=enterprise.region_code)
    rules = credentials_service.LockoutRules(
        failures=settings.staff_lockout_failures, window=timedelta(seconds=settings.staff_lockout_window_seconds),
        lock=timedelta(seconds=settings.staff_lockout_seconds))
    try:
        staff = await credentials_service.sign_in_staff(session, cipher, username=body.username,
                                                        password=body.password, totp_code=body.totp, rules=rules)
    except credentials_service.SignInRefused:
        raise Problem("unauthenticated", INVALID_GRANT) from None
    except credentials_service.SecondFactorRequired:
        raise Problem("mfa-required", "Repeat the request with the authenticator's code as `totp`") from None
    if staff.merchant_id is not None:
        # A portal user signs in only while the enterprise is approved; `enterprise` lets the token reach every
        # merchant endpoint an API client reaches, the portal role says what the person may do besides.
        if not await portal_service.portal_user_is_active(session, username=staff.username):
            raise Problem("unauthenticated", INVALID_GRANT)
        return PortalUserClaims(sub=staff.username, roles=[Role.ENTERPRISE.value, staff.role],
                                merchant_id=staff.merchant_id, region=staff.region_code)
    roles = [staff.role, *([Role.STAFF_ADMIN.value] if staff.staff_admin else [])]
    return StaffClaims(sub=staff.username, roles=roles, region=staff.region_code, station_id=staff.station_id,
                       setup_required=[step.value for step in staff.setup_required])


@principals_router.get("/{client_id}/active", response_model=ClientStatus,
                       summary="Whether an enterprise client's tokens may still be honoured")
async def client_active(client_id: Annotated[str, Path(max_length=64)], session: DbSession) -> JSONResponse:
    """False once the client is revoked or expired or its enterprise is no longer approved (unknown: false)."""
    active = await access_service.client_is_active(session, client_id=client_id)
    return JSONResponse(ClientStatus(client_id=client_id, active=active).model_dump(),
                        headers={"Cache-Control": "no-store"})


@principals_router.get("/portal-users/{username}/active", response_model=PortalUserStatus,
                       summary="Whether a portal user's tokens may still be honoured")
async def portal_user_active(username: Annotated[str, Path(max_length=64)], session: DbSession) -> JSONResponse:
    """False once the account is disabled or reset or its enterprise is no longer approved (unknown: false)."""
    active = await portal_service.portal_user_is_active(session, username=username)
    return JSONResponse(PortalUserStatus(username=username, active=active).model_dump(),
                        headers={"Cache-Control": "no-store"})


@merchant_router.post("/rotate", status_code=201, response_model=RotatedCredentials,
                      summary="Issue a new client secret; the current one keeps working for an overlap window",
                      responses=problem_responses(403, 409))
async def rotate(principal: EnterpriseManager, session: DbSession, settings: Settings) -> JSONResponse:
    """The new client_id and client_secret (shown once); the replaced clients expire after the overlap window."""
    rotated = await access_service.rotate_api_client(
        session, merchant_id=principal.merchant_id, overlap=timedelta(seconds=settings.credential_overlap_seconds))
    body = RotatedCredentials(client_id=rotated.issued.client_id, client_secret=rotated.issued.client_secret,
                              previous_valid_until=rotated.previous_valid_until)
    return JSONResponse(body.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})
