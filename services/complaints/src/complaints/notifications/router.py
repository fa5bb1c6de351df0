"""Internal: the gateway queues the sign-in codes it issues (it has no database to keep an outbox in)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from complaints.notifications import service as notifications
from complaints.notifications.schemas import SignInCodeQueued, SignInCodeRequest
from complaints.settings import ComplaintsSettings
from servicekit.app import get_runtime
from servicekit.auth import require_internal
from servicekit.dependencies import Cipher, DbSession
from servicekit.problems import problem_responses

internal_router = APIRouter(prefix="/internal/v1/sms", tags=["internal"], dependencies=[Depends(require_internal)])


@internal_router.post("/sign-in-codes", status_code=202, response_model=SignInCodeQueued,
                      responses=problem_responses(403, 422, 429),
                      summary="Queue a sign-in code for a phone, within the per-phone and per-address limits")
async def queue_sign_in_code(body: SignInCodeRequest, request: Request, session: DbSession,
                             cipher: Cipher) -> JSONResponse:
    """202 once the message is queued; 429 (with Retry-After) past a limit, and nothing is queued."""
    settings = get_runtime(request).settings
    assert isinstance(settings, ComplaintsSettings)
    await notifications.queue_sign_in_code(session, cipher, phone=body.phone, code=body.code,
                                           address=body.client_address,
                                           limits=notifications.CodeLimits.of(settings))
    return JSONResponse(SignInCodeQueued().model_dump(), status_code=202, headers={"Cache-Control": "no-store"})
