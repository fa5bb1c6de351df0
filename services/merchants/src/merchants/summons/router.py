"""Summons (约谈): regulators record meetings with enterprises and list those of their regions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from merchants.dependencies import Regulator
from merchants.summons import service as summons_service
from merchants.summons.schemas import SummonsCreate, SummonsList, SummonsRead
from servicekit.dependencies import Cipher, DbSession
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/regulator", tags=["regulator: summons"])


@router.post("/merchants/{merchant_id}/summons", status_code=201, response_model=SummonsRead,
             summary="Record a summons (约谈) of an enterprise", responses=problem_responses(401, 403, 404, 422))
async def record_summons(merchant_id: uuid.UUID, body: SummonsCreate, principal: Regulator,
                         session: DbSession, cipher: Cipher) -> JSONResponse:
    """The meeting held with an enterprise of a region I govern about its complaints: date, attendees, findings and
    undertakings. It shows on the enterprise's scorecard."""
    summons = await summons_service.record(session, merchant_id=merchant_id, body=body, principal=principal,
                                           cipher=cipher)
    return JSONResponse(summons.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"{router.prefix}/summons/{summons.id}"})


@router.get("/summons", response_model=SummonsList, summary="Summons of the regions I govern",
            responses=problem_responses(401, 403, 404, 422))
async def list_summons(principal: Regulator, session: DbSession, cipher: Cipher, region: str | None = None,
                       merchant_id: uuid.UUID | None = None, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=100)] = 50) -> SummonsList:
    """Newest first; `region` (default mine) must be one I govern, and includes the regions below it."""
    return await summons_service.list_for_regulator(session, principal=principal, region=region,
                                                    merchant_id=merchant_id, cursor=cursor, limit=limit,
                                                    cipher=cipher)


@router.get("/summons/{summons_id}", response_model=SummonsRead, summary="One summons",
            responses=problem_responses(401, 403, 404, 422))
async def get_summons(summons_id: uuid.UUID, principal: Regulator, session: DbSession,
                      cipher: Cipher) -> SummonsRead:
    """A summons of an enterprise in a region I govern."""
    return await summons_service.get(session, summons_id=summons_id, principal=principal, cipher=cipher)
