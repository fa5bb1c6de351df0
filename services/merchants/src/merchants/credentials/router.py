"""Internal endpoint: the gateway exchanges a grant for the claims of the token it will sign."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from servicekit.auth import Role, require_internal
from servicekit.problems import Problem

from merchants.credentials import service as credentials_service
from merchants.credentials.schemas import ClientCredentialsGrant, CredentialsVerify, EnterpriseClaims, StaffClaims
from merchants.dependencies import DbSession

router = APIRouter(prefix="/internal/v1/credentials", tags=["internal"], dependencies=[Depends(require_internal)])

INVALID_GRANT = "The credentials are not valid"


@router.post("/verify", summary="Check a client_credentials or password grant and return the token claims")
async def verify_credentials(body: CredentialsVerify, session: DbSession) -> EnterpriseClaims | StaffClaims:
    """200 with the claims when the grant is good; one indistinguishable 401 for every failure."""
    if isinstance(body, ClientCredentialsGrant):
        enterprise = await credentials_service.verify_client_credentials(
            session, client_id=body.client_id, client_secret=body.client_secret)
        if enterprise is None:
            raise Problem("unauthenticated", INVALID_GRANT)
        return EnterpriseClaims(sub=enterprise.client_id, roles=[Role.ENTERPRISE.value],
                                merchant_id=enterprise.merchant_id, client_id=enterprise.client_id,
                                region=enterprise.region_code)
    staff = await credentials_service.verify_staff_password(session, username=body.username, password=body.password)
    if staff is None:
        raise Problem("unauthenticated", INVALID_GRANT)
    return StaffClaims(sub=staff.username, roles=[staff.role], region=staff.region_code, station_id=staff.station_id)
