"""`GET /v1/merchant/portal-users/me`: registered before the portal's own routes."""

from __future__ import annotations

from fastapi import APIRouter

from merchants.dependencies import PortalUser
from merchants.portal.schemas import PortalMe
from merchants.workbench import service as workbench_service
from servicekit.dependencies import Cipher, DbSession
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/merchant/portal-users", tags=["merchant: portal accounts"])


@router.get("/me", response_model=PortalMe, summary="The signed-in portal user and the enterprise",
            responses=problem_responses(403, 404))
async def me(principal: PortalUser, session: DbSession, cipher: Cipher) -> PortalMe:
    """Who is signed in, with which role, for which enterprise, and the status of its ODR application."""
    return await workbench_service.me(session, cipher, principal=principal)
