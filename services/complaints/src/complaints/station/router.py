"""HTTP endpoints of the station desk (消费维权服务站): staff file for a walk-in consumer whose identity document they
checked, settle a complaint on the spot, and read their station's cases and figures."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from complaints.complaint import service as complaint_service
from complaints.complaint.enums import ActorRole, Channel
from complaints.complaint.schemas import (
    ComplaintCreate,
    ComplaintList,
    ComplaintRead,
    SettledOnSpot,
    StationComplaintCreate,
)
from complaints.complaint.state import Actor
from complaints.dependencies import Events, Store, negotiation_periods_of
from complaints.evidence.router import receive_upload, stored_file
from complaints.evidence.schemas import EvidenceRead
from complaints.station import service as station_service
from complaints.station.schemas import Period, StationFigures
from servicekit.auth import Audience, Principal, Role, consumer_subject, require
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize
from servicekit.problems import Problem, problem_responses

station_router = APIRouter(prefix="/v1/regulator/station-complaints", tags=["regulator: service stations"])

StationStaffPrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.STATION_STAFF))]


def _station_of(principal: Principal) -> uuid.UUID:
    if principal.station_id is None:
        raise Problem("forbidden", "The token names no service station")
    return principal.station_id


@station_router.post("", status_code=201, response_model=ComplaintRead,
                     summary="File a walk-in consumer's complaint at a service station (消费维权服务站)",
                     responses=problem_responses(401, 403, 422))
async def file_station_complaint(
    body: StationComplaintCreate,
    principal: StationStaffPrincipal,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    publisher: Events,
) -> JSONResponse:
    """Station staff file for a consumer who came in person, after checking the original of their identity document
    (`identity`: its type, its number, sealed like every ID number, and `checked: true`). The case belongs to the
    consumer's own login (their phone's subject), so they follow it in the app like one they filed themselves.
    Routed as any complaint, unless `settled_on_spot` says the merchant settled at the station: then it is closed
    settled at once with that amount recovered, and no one is asked to negotiate."""
    station_id = _station_of(principal)
    assert body.complainant is not None, "StationComplaintCreate requires a complainant"
    filing = complaint_service.Filing(
        consumer_id=consumer_subject(body.complainant.phone, runtime.settings.subject_key.get_secret_value()),
        body=ComplaintCreate.model_validate(
            body.model_dump(exclude={"settled_on_spot", "identity"}) | {"channel": Channel.STATION}),
        idempotency_key=None,
        cipher=cipher,
        publisher=publisher,
        negotiation_periods=negotiation_periods_of(runtime),
        filer=Actor(ActorRole.STATION_STAFF, principal.sub),
        station_id=station_id,
        evidence_owner=evidence_owner(station_id),
        identity=body.identity,
        settled_on_spot=body.settled_on_spot,
    )
    stored = await complaint_service.file_complaint(session, filing)
    return JSONResponse(stored.body, status_code=stored.status,
                        headers={"Location": f"{station_router.prefix}/{stored.body['id']}"})


def evidence_owner(station_id: uuid.UUID) -> str:
    """Who owns what the desk uploads before filing: the station, never a consumer's subject (those start c_)."""
    return f"station:{station_id}"


@station_router.post(
    "/evidence", status_code=201, response_model=EvidenceRead, summary="Upload a walk-in's evidence at the desk",
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}},
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def upload_station_evidence(
    request: Request,
    principal: StationStaffPrincipal,
    session: DbSession,
    runtime: Runtime,
    store: Store,
    cipher: Cipher,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
) -> EvidenceRead:
    """A receipt, photo or recording the walk-in brought, as the raw body (the same types and limit as the consumer's
    upload); the filing then names it in `evidence_ids`. Only a filing by the same station can attach it."""
    return await receive_upload(request, session=session, runtime=runtime, store=store, cipher=cipher,
                                owner=evidence_owner(_station_of(principal)), filename=filename)


@station_router.get("", response_model=ComplaintList, summary="What my service station filed, newest first",
                    responses=problem_responses(401, 403, 422))
async def list_station_complaints(
    principal: StationStaffPrincipal,
    session: DbSession,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ComplaintList:
    """The cases the caller's station filed, newest first, a page at a time."""
    return await complaint_service.list_complaints(
        session, conditions=complaint_service.station_conditions(_station_of(principal)), cursor=cursor, limit=limit)


@station_router.get("/figures", response_model=StationFigures, response_model_by_alias=True,
                    summary="My station's figures: received, settled on the spot, referred, money recovered",
                    responses=problem_responses(401, 403, 422))
async def station_figures(
    principal: StationStaffPrincipal,
    session: DbSession,
    period: Period = Period.MONTH,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
) -> StationFigures:
    """Counts over the cases the caller's station filed from `from` to `to` (local dates, both included; default:
    the last 12 months by month, the last 30 days by day), in total and per day or month, each case in the period
    it was filed. Each count's definition is in the response schema."""
    station_id = _station_of(principal)
    today = local_date(utcnow())
    last = period_to or today
    if period_from is not None:
        first = period_from
    elif period is Period.MONTH:
        first = date(last.year, 1, 1) if last.month == 12 else date(last.year - 1, last.month + 1, 1)
    else:
        first = last - timedelta(days=29)
    return await station_service.figures(session, station_id=station_id, period=period, period_from=first,
                                         period_to=last)


@station_router.get("/{complaint_id}", response_model=ComplaintRead, summary="A case my station filed",
                    responses=problem_responses(401, 403, 404, 422))
async def get_station_complaint(complaint_id: uuid.UUID, principal: StationStaffPrincipal, session: DbSession,
                                cipher: Cipher) -> ComplaintRead:
    """Full detail, personal data included, of a case the caller's station filed (the staff saw the consumer's
    documents in person); 404 for any other. Every such read is logged (`pii_access`)."""
    return await station_service.get_case(session, complaint_id=complaint_id, station_id=_station_of(principal),
                                          principal=principal, cipher=cipher)


@station_router.post("/{complaint_id}/settlement", response_model=ComplaintRead,
                     summary="Record a settlement reached at the station (当场调解成功)",
                     responses=problem_responses(401, 403, 404, 409, 422))
async def settle_station_complaint(complaint_id: uuid.UUID, body: SettledOnSpot, principal: StationStaffPrincipal,
                                   session: DbSession, cipher: Cipher, publisher: Events) -> ComplaintRead:
    """pending_acceptance -> closed_settled for a complaint the caller's station filed: the consumer and the business
    agreed at the station (`note`: what they agreed; `amount_fen`: the money the consumer recovers). 409 once an ODR
    enterprise negotiates it, the regulator has accepted it, or it is closed: those settlements are theirs to record.
    Emits `closed.v1`; the statistics count it settled, closed and recovered, under channel `station`."""
    station_id = _station_of(principal)
    await station_service.settle_on_the_spot(session, complaint_id=complaint_id, station_id=station_id,
                                             principal=principal, body=body, publisher=publisher)
    return await station_service.get_case(session, complaint_id=complaint_id, station_id=station_id,
                                          principal=principal, cipher=cipher)


@station_router.get("/{complaint_id}/evidence/{evidence_id}", summary="Download an attachment of my station's case",
                    response_class=Response, responses={200: {"content": {"application/octet-stream": {}}},
                                                        **problem_responses(401, 403, 404, 422)})
async def download_station_evidence(complaint_id: uuid.UUID, evidence_id: uuid.UUID,
                                    principal: StationStaffPrincipal, session: DbSession, cipher: Cipher,
                                    store: Store) -> Response:
    """An attachment of a case the caller's station filed (the receipt or photo the walk-in brought); 404 for any
    other."""
    await station_service.ensure_own_case(session, complaint_id=complaint_id, station_id=_station_of(principal))
    return await stored_file(session, cipher, store, complaint_id, evidence_id)
