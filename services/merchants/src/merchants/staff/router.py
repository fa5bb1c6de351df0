"""Staff administration (`staff_admin`) and the staff member's own password and TOTP (architecture §5)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from fastapi.responses import JSONResponse

from merchants.credentials.service import LockoutRules
from merchants.dependencies import Settings
from merchants.staff import service as staff_service
from merchants.staff.schemas import (
    DisableRequest,
    IssuedPassword,
    MyAccount,
    PasswordChange,
    RegionPolicyRead,
    RegionPolicyUpdate,
    StaffAccountCreate,
    StaffAccountList,
    StaffAccountRead,
    StaffAuditList,
    TotpConfirm,
    TotpEnrolment,
)
from servicekit.auth import Audience, Principal, Role, require
from servicekit.dependencies import Cipher, DbSession
from servicekit.pagination import PageSize
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/regulator", tags=["regulator: staff accounts"])

StaffAdmin = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.STAFF_ADMIN))]
# Any staff token, and the setup token a sign-in yields while a password change or TOTP enrolment is owed.
StaffMember = Annotated[Principal, Depends(require(
    Audience.REGULATOR, Role.REGULATOR, Role.MEDIATOR, Role.STATION_STAFF, Role.HOTLINE, Role.ACCOUNT_SETUP))]
Region = Annotated[str, Path(pattern=r"^\d{6}$")]
NO_STORE = {"Cache-Control": "no-store"}


def lockout_rules(settings: Settings) -> LockoutRules:
    return LockoutRules(failures=settings.staff_lockout_failures,
                        window=timedelta(seconds=settings.staff_lockout_window_seconds),
                        lock=timedelta(seconds=settings.staff_lockout_seconds))


# /staff/me… before /staff/{account_id}: "me" is not an id.
@router.get("/staff/me", response_model=MyAccount, summary="My staff account and what is left to set up",
            responses=problem_responses(401, 403))
async def my_staff_account(principal: StaffMember, session: DbSession) -> MyAccount:
    """`setup_required` lists `password_change` and `totp_enrolment` while they are owed."""
    return await staff_service.my_account(session, principal=principal)


@router.post("/staff/me/password", status_code=204, summary="Change my password",
             responses=problem_responses(401, 403, 422))
async def change_password(body: PasswordChange, principal: StaffMember, session: DbSession,
                          settings: Settings) -> Response:
    """The current password proves it is me (a wrong one counts towards the lockout); the new one must meet the
    rules: at least 12 characters of 3 kinds, without the username, not a common password."""
    await staff_service.change_password(session, principal=principal, current_password=body.current_password,
                                        new_password=body.new_password, rules=lockout_rules(settings))
    return Response(status_code=204)


@router.post("/staff/me/totp", status_code=201, response_model=TotpEnrolment,
             summary="Start TOTP enrolment: a new secret for my authenticator app", responses=problem_responses(
                 401, 403, 409))
async def start_totp(principal: StaffMember, session: DbSession, cipher: Cipher) -> JSONResponse:
    """RFC 6238 (SHA-1, 6 digits, 30 s). The secret is shown this once and kept encrypted; confirm a code next."""
    enrolment = await staff_service.start_totp(session, cipher, principal=principal)
    return JSONResponse(enrolment.model_dump(), status_code=201, headers=NO_STORE)


@router.post("/staff/me/totp/confirm", response_model=MyAccount, summary="Confirm TOTP enrolment with a code",
             responses=problem_responses(401, 403, 409, 422))
async def confirm_totp(body: TotpConfirm, principal: StaffMember, session: DbSession, cipher: Cipher) -> MyAccount:
    """From now on every sign-in needs the authenticator's code; the code given here cannot sign in again."""
    return await staff_service.confirm_totp(session, cipher, principal=principal, code=body.code)


@router.get("/staff", response_model=StaffAccountList, summary="Staff accounts of the regions I govern",
            responses=problem_responses(401, 403, 404, 422))
async def list_accounts(principal: StaffAdmin, session: DbSession, cipher: Cipher, region: str | None = None,
                        cursor: str | None = None, limit: PageSize = 50) -> StaffAccountList:
    """`region` (default mine) must be one I govern and includes the regions below it."""
    return await staff_service.list_accounts(session, cipher, principal=principal, region=region, cursor=cursor,
                                             limit=limit)


@router.post("/staff", status_code=201, response_model=IssuedPassword, summary="Create a staff account",
             responses=problem_responses(401, 403, 409, 422))
async def create_account(body: StaffAccountCreate, principal: StaffAdmin, session: DbSession,
                         cipher: Cipher) -> JSONResponse:
    """In a region I govern; the temporary password is shown this once and must be changed at the first sign-in."""
    issued = await staff_service.create_account(session, cipher, body=body, principal=principal)
    return JSONResponse(issued.model_dump(mode="json"), status_code=201,
                        headers={**NO_STORE, "Location": f"{router.prefix}/staff/{issued.account.id}"})


@router.get("/staff/{account_id}", response_model=StaffAccountRead, summary="One staff account",
            responses=problem_responses(401, 403, 404, 422))
async def get_account(account_id: uuid.UUID, principal: StaffAdmin, session: DbSession,
                      cipher: Cipher) -> StaffAccountRead:
    """404 for an account outside my regions."""
    return await staff_service.get_account(session, cipher, account_id=account_id, principal=principal)


@router.post("/staff/{account_id}/disable", response_model=StaffAccountRead, summary="Disable a staff account",
             responses=problem_responses(401, 403, 404, 409, 422))
async def disable(account_id: uuid.UUID, body: DisableRequest, principal: StaffAdmin, session: DbSession,
                  cipher: Cipher) -> StaffAccountRead:
    """Its sign-ins are refused from now on (409 if already disabled, or my own account)."""
    return await staff_service.set_disabled(session, cipher, account_id=account_id, principal=principal,
                                            disabled=True, reason=body.reason)


@router.post("/staff/{account_id}/enable", response_model=StaffAccountRead, summary="Enable a staff account again",
             responses=problem_responses(401, 403, 404, 409, 422))
async def enable(account_id: uuid.UUID, principal: StaffAdmin, session: DbSession,
                 cipher: Cipher) -> StaffAccountRead:
    """Also lifts a lock after failed sign-ins (409 if not disabled, or my own account)."""
    return await staff_service.set_disabled(session, cipher, account_id=account_id, principal=principal,
                                            disabled=False)


@router.post("/staff/{account_id}/reset", response_model=IssuedPassword,
             summary="Reset a staff account: new temporary password, TOTP unbound",
             responses=problem_responses(401, 403, 404, 409, 422))
async def reset(account_id: uuid.UUID, principal: StaffAdmin, session: DbSession, cipher: Cipher) -> JSONResponse:
    """The temporary password is shown this once; the user changes it and enrols TOTP again at the next sign-in."""
    issued = await staff_service.reset_account(session, cipher, account_id=account_id, principal=principal)
    return JSONResponse(issued.model_dump(mode="json"), headers=NO_STORE)


@router.get("/staff-audit", response_model=StaffAuditList, summary="Audit trail of staff administration",
            responses=problem_responses(401, 403, 404, 422))
async def audit_trail(principal: StaffAdmin, session: DbSession, region: str | None = None, cursor: str | None = None,
                      limit: PageSize = 50) -> StaffAuditList:
    """Every create, disable, enable, reset, password change, TOTP binding, lock and policy change in a region I
    govern (default mine) and below, newest first."""
    return await staff_service.list_audit(session, principal=principal, region=region, cursor=cursor, limit=limit)


@router.get("/staff-policies/{region}", response_model=RegionPolicyRead, summary="A region's staff sign-in policy",
            responses=problem_responses(401, 403, 404, 422))
async def get_policy(region: Region, principal: StaffAdmin, session: DbSession) -> RegionPolicyRead:
    """Whether TOTP is required there, by the region itself or one above it."""
    return await staff_service.region_policy(session, region=region, principal=principal)


@router.put("/staff-policies/{region}", response_model=RegionPolicyRead, summary="Set a region's staff sign-in policy",
            responses=problem_responses(401, 403, 404, 422))
async def put_policy(region: Region, body: RegionPolicyUpdate, principal: StaffAdmin,
                     session: DbSession) -> RegionPolicyRead:
    """With `totp_required`, every account of the region and below must sign in with TOTP; one without it is made
    to enrol at its next sign-in."""
    return await staff_service.set_region_policy(session, region=region, totp_required=body.totp_required,
                                                 principal=principal)
