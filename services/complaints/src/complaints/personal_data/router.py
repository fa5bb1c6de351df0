"""The consumer's own personal data: download all of it, and erase a closed case's once its retention has passed."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter

from complaints.dependencies import Events, Store
from complaints.personal_data import service as personal_data_service
from complaints.personal_data.schemas import ComplaintsPersonalData, ErasureRead
from complaints.settings import ComplaintsSettings
from servicekit.auth import ConsumerPrincipal
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.problems import problem_responses

consumer_router = APIRouter(prefix="/v1/consumer", tags=["consumer: personal data"])


@consumer_router.get("/personal-data/complaints", response_model=ComplaintsPersonalData,
                     summary="Everything the complaints service holds about me",
                     responses=problem_responses(401, 403))
async def export_my_personal_data(principal: ConsumerPrincipal, session: DbSession,
                                  cipher: Cipher) -> ComplaintsPersonalData:
    """The caller's complaints and reports in full (parties, facts, timeline, deadlines, rating), the attachments
    they uploaded (metadata), their consultations, who among staff read their personal data (role and bureau,
    never the person) and the text messages sent to them. The gateway's `GET /v1/consumer/personal-data` puts this
    together with what mediation holds."""
    return await personal_data_service.export(session, consumer_id=principal.sub, cipher=cipher)


@consumer_router.post("/complaints/{complaint_id}/personal-data/erasure", response_model=ErasureRead,
                      summary="Erase my personal data from a closed case",
                      responses=problem_responses(401, 403, 404, 409, 422))
async def erase_my_personal_data(complaint_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                                 cipher: Cipher, publisher: Events, store: Store,
                                 runtime: Runtime) -> ErasureRead:
    """Erases the parties, the facts, the order number, the rating text, the evidence files and their names, the
    consultation the case came from and its text messages, here and (through `personal_data_erased.v1`) in
    mediation and the enterprise's webhook deliveries; the anonymised case stays, so every statistic is unchanged.
    409 with `reason` `case_open` while the case is open, `in_retention` (with `erasable_from`) while it is within
    its retention period (`ODR_PERSONAL_DATA_RETENTION_DAYS` from its closure), `already_erased` the second time;
    404 for a case of someone else."""
    settings = runtime.settings
    assert isinstance(settings, ComplaintsSettings)
    return await personal_data_service.erase_for_consumer(
        session, complaint_id=complaint_id, consumer_id=principal.sub, publisher=publisher, cipher=cipher,
        store=store, retention=timedelta(days=settings.personal_data_retention_days))
