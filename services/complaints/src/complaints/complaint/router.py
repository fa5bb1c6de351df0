"""HTTP endpoints of complaints: consumers file and follow their own, regulators list those of their regions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from complaints.complaint import service as complaint_service
from complaints.complaint.schemas import ComplaintCreate, ComplaintList, ComplaintRead
from complaints.complaint.state import ComplaintKind, ComplaintStatus
from complaints.dependencies import Cipher, DbSession, Runtime
from complaints.idempotency import validate_key
from servicekit import regions
from servicekit.auth import ConsumerPrincipal, RegulatorPrincipal
from servicekit.problems import Problem

consumer_router = APIRouter(prefix="/v1/consumer/complaints", tags=["consumer: complaints"])
regulator_router = APIRouter(prefix="/v1/regulator/complaints", tags=["regulator: complaints"])

PageSize = Annotated[int, Query(ge=1, le=100)]


@consumer_router.post("", status_code=201, response_model=ComplaintRead, summary="File a complaint")
async def file_complaint(
    body: ComplaintCreate,
    principal: ConsumerPrincipal,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """File a complaint; a retry with the same Idempotency-Key and body returns the first response."""
    filing = complaint_service.Filing(
        consumer_id=principal.sub,
        body=body,
        idempotency_key=validate_key(idempotency_key) if idempotency_key is not None else None,
        cipher=cipher,
        outbox=runtime.outbox,
        source=runtime.settings.service_name,
    )
    stored = await complaint_service.file_complaint(session, filing)
    return JSONResponse(stored.body, status_code=stored.status,
                        headers={"Location": f"{consumer_router.prefix}/{stored.body['id']}"})


@consumer_router.get("", response_model=ComplaintList, summary="My complaints, newest first")
async def list_my_complaints(
    principal: ConsumerPrincipal,
    session: DbSession,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ComplaintList:
    """The caller's own complaints, newest first, a page at a time."""
    return await complaint_service.list_complaints(
        session, conditions=complaint_service.consumer_conditions(principal.sub), cursor=cursor, limit=limit)


@consumer_router.get("/{complaint_id}", response_model=ComplaintRead, summary="One of my complaints",
                     responses={304: {"description": "Not modified since the ETag sent in If-None-Match"}})
async def get_my_complaint(
    complaint_id: uuid.UUID,
    principal: ConsumerPrincipal,
    session: DbSession,
    cipher: Cipher,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Status, deadlines and timeline of the caller's complaint, with an ETag for cheap polling."""
    if if_none_match is not None:
        version = await complaint_service.version_of(session, complaint_id=complaint_id, consumer_id=principal.sub)
        if version is not None and _matches(if_none_match, version):
            return Response(status_code=304, headers={"ETag": _etag(version)})
    found = await complaint_service.get_for_consumer(session, complaint_id=complaint_id,
                                                     consumer_id=principal.sub, cipher=cipher)
    return JSONResponse(found.detail.model_dump(mode="json"), headers={"ETag": _etag(found.version)})


@regulator_router.get("", response_model=ComplaintList, summary="Complaints of the regions I govern")
async def list_region_complaints(
    principal: RegulatorPrincipal,
    session: DbSession,
    status: ComplaintStatus | None = None,
    kind: ComplaintKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ComplaintList:
    """Complaints in `region` (default: the caller's own), which must be a region the caller governs."""
    scope = region or principal.region
    if scope is None or not principal.governs(scope):
        raise Problem("forbidden", "The token does not govern that region")
    conditions = complaint_service.regulator_conditions(region_prefix=regions.prefix(scope), status=status, kind=kind)
    return await complaint_service.list_complaints(session, conditions=conditions, cursor=cursor, limit=limit)


def _etag(version: int) -> str:
    return f'W/"{version}"'


def _matches(header: str, version: int) -> bool:
    """If-None-Match semantics with weak comparison: W/"1" and "1" both match version 1, and so does *."""
    tags = {tag.strip() for tag in header.split(",")}
    return "*" in tags or bool({_etag(version), _etag(version).removeprefix("W/")} & tags)
