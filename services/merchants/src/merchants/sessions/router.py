"""Sessions (internal): the gateway opens a family at sign-in, rotates its refresh token and revokes it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from merchants.dependencies import Settings
from merchants.sessions import service as sessions_service
from merchants.sessions.schemas import RefreshTokenPresented, SessionIssued, SessionStart
from servicekit.auth import require_internal
from servicekit.dependencies import DbSession
from servicekit.problems import Problem, problem_responses

router = APIRouter(prefix="/internal/v1/sessions", tags=["internal"], dependencies=[Depends(require_internal)])

NO_STORE = {"Cache-Control": "no-store"}


@router.post("", status_code=201, response_model=SessionIssued, responses=problem_responses(401, 403, 422),
             summary="Open a session family for a verified sign-in")
async def start_session(body: SessionStart, session: DbSession, settings: Settings) -> JSONResponse:
    """The first refresh token of a new family; 401 when the staff account does not exist or is disabled."""
    policy = sessions_service.policies(settings)[body.kind]
    issued = await sessions_service.start(session, kind=body.kind, subject=body.subject, policy=policy)
    return JSONResponse(issued.model_dump(mode="json"), status_code=201, headers=NO_STORE)


@router.post("/refresh", response_model=SessionIssued, responses=problem_responses(401, 403, 422),
             summary="Exchange a refresh token for the next one and the claims of a new access token")
async def refresh_session(body: RefreshTokenPresented, session: DbSession, settings: Settings) -> JSONResponse:
    """One indistinguishable 401 for every refusal: unknown, expired, revoked, reused (which revokes the family) or
    an account that was disabled."""
    issued = await sessions_service.rotate(session, refresh_token=body.refresh_token,
                                           policies=sessions_service.policies(settings))
    if issued is None:
        raise Problem("unauthenticated", "The refresh token is not valid")
    return JSONResponse(issued.model_dump(mode="json"), headers=NO_STORE)


@router.post("/revoke", status_code=204, responses=problem_responses(403, 422),
             summary="End the family of a refresh token (RFC 7009: unknown tokens are not an error)")
async def revoke_session(body: RefreshTokenPresented, session: DbSession) -> Response:
    """204 whether or not the token was known."""
    await sessions_service.revoke(session, refresh_token=body.refresh_token)
    return Response(status_code=204)
