"""Reveal a case's personal data with a purpose, and read the log of reveals (a supervisor; the consumer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from complaints.access import service as access_service
from complaints.access.schemas import AccessList, ConsumerAccessList, RegionAccessList, RevealIn, RevealRead
from servicekit.auth import Audience, ConsumerPrincipal, Principal, RegulatorPrincipal, Role, require
from servicekit.dependencies import Cipher, DbSession
from servicekit.pagination import PageSize
from servicekit.problems import problem_responses

regulator_router = APIRouter(prefix="/v1/regulator/complaints", tags=["regulator: personal data"])
consumer_router = APIRouter(prefix="/v1/consumer/complaints", tags=["consumer: complaints"])
audit_router = APIRouter(prefix="/v1/regulator/personal-data-reads", tags=["regulator: personal data"])

# Auditing staff reads is a supervisor's work: a regulator of the region, not a mediator.
SupervisorPrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR))]


@regulator_router.post("/{complaint_id}/reveal", response_model=RevealRead,
                       summary="Reveal the parties' personal data, with a purpose (logged)",
                       responses=problem_responses(401, 403, 404, 409, 422))
async def reveal_personal_data(complaint_id: uuid.UUID, body: RevealIn, principal: RegulatorPrincipal,
                               session: DbSession, cipher: Cipher) -> RevealRead:
    """The complainant's name, phone, address and ID number, the agent and the joint complainants in full (the case
    detail shows them masked). The reveal is logged in the same transaction: staff subject, role and region, time,
    the fields shown and the purpose, with the note encrypted. 404 for a case outside the caller's regions; 409 when
    the case holds none of the fields asked for (an anonymous report)."""
    return await access_service.reveal(session, complaint_id=complaint_id, principal=principal, body=body,
                                       cipher=cipher)


@regulator_router.get("/{complaint_id}/access-log", response_model=AccessList,
                      summary="Who revealed this case's personal data (supervisor)",
                      responses=problem_responses(401, 403, 404, 422))
async def read_access_log(complaint_id: uuid.UUID, principal: SupervisorPrincipal, session: DbSession,
                          cipher: Cipher, cursor: str | None = None, limit: PageSize = 50) -> AccessList:
    """Every reveal of a case in a region the caller governs, oldest first, with the staff member's subject and the
    note; for regulators only (a mediator answers 403)."""
    return await access_service.log_for_supervisor(session, complaint_id=complaint_id, principal=principal,
                                                    cipher=cipher, cursor=cursor, limit=limit)


@consumer_router.get("/{complaint_id}/access-log", response_model=ConsumerAccessList,
                     summary="Who read my personal data",
                     responses=problem_responses(401, 403, 404, 422))
async def read_my_access_log(complaint_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                             cursor: str | None = None, limit: PageSize = 50) -> ConsumerAccessList:
    """Each time staff revealed the personal data of the caller's case, oldest first: when, the role and the bureau
    (its region), the fields and the purpose, never who in person (PIPL Art. 45)."""
    return await access_service.log_for_consumer(session, complaint_id=complaint_id, consumer_id=principal.sub,
                                                 cursor=cursor, limit=limit)


@audit_router.get("", response_model=RegionAccessList, summary="Staff reads of personal data in a region (supervisor)",
                  responses=problem_responses(401, 403, 404, 422))
async def read_region_access_log(region: Annotated[str, Query(pattern=r"^\d{6}$")], principal: SupervisorPrincipal,
                                 session: DbSession, cipher: Cipher, cursor: str | None = None,
                                 limit: PageSize = 50) -> RegionAccessList:
    """Every reveal and logged full read of a case of the region (and the regions below it), oldest first: the staff
    member's subject, role and region, when, which case, which fields and the stated purpose with its note. For
    regulators only (a mediator answers 403); 404 for a region the caller does not govern."""
    return await access_service.log_of_region(session, region=region, principal=principal, cipher=cipher,
                                              cursor=cursor, limit=limit)
