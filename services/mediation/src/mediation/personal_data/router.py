"""The consumer's data export from mediation, which the gateway's `GET /v1/consumer/personal-data` includes."""

from __future__ import annotations

from fastapi import APIRouter

from mediation.personal_data import service as personal_data_service
from mediation.personal_data.schemas import MediationPersonalData
from servicekit.auth import ConsumerPrincipal
from servicekit.dependencies import Cipher, DbSession
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/consumer/personal-data", tags=["consumer: personal data"])


@router.get("/mediation", response_model=MediationPersonalData,
            summary="Everything mediation holds about me", responses=problem_responses(401, 403))
async def export_my_personal_data(principal: ConsumerPrincipal, session: DbSession,
                                  cipher: Cipher) -> MediationPersonalData:
    """Every negotiation and mediation case the caller is party to, with its offers, agreement, fulfilment,
    messages, attachments (metadata) and read receipts."""
    return await personal_data_service.export(session, consumer_id=principal.sub, cipher=cipher)
