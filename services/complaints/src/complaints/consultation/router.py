"""HTTP endpoints of consultations (咨询): consumers ask and follow their own, staff record a caller's or walk-in's
question, regulators list the open ones of their regions and answer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse

from complaints import idempotency
from complaints.complaint.enums import ActorRole, Channel
from complaints.complaint.schemas import ComplaintRead
from complaints.complaint.state import Actor
from complaints.consultation import service as consultation_service
from complaints.consultation.models import ConsultationStatus
from complaints.consultation.schemas import (
    AnswerIn,
    ComplaintFromConsultation,
    ConsultationCreate,
    ConsultationList,
    ConsultationRead,
    StaffConsultationCreate,
)
from complaints.dependencies import Events, negotiation_periods_of
from complaints.idempotency import validate_key
from complaints.settings import ComplaintsSettings
from servicekit.auth import (
    Audience,
    ConsumerPrincipal,
    Principal,
    RegulatorPrincipal,
    Role,
    consumer_subject,
    require,
)
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize
from servicekit.problems import Problem
from servicekit.settings import ServiceSettings

consumer_router = APIRouter(prefix="/v1/consumer/consultations", tags=["consumer: consultations"])
regulator_router = APIRouter(prefix="/v1/regulator/consultations", tags=["regulator: consultations"])

# Staff who record a question for someone: regulators (the hotline desk) and service-station staff.
StaffPrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR, Role.STATION_STAFF))]


def _answer_period(settings: ServiceSettings) -> int:
    assert isinstance(settings, ComplaintsSettings)
    return settings.consultation_answer_working_days


@consumer_router.post("", status_code=201, response_model=ConsultationRead, summary="Ask the bureau (咨询)")
async def ask(
    body: ConsultationCreate,
    principal: ConsumerPrincipal,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """A question to the market regulator of `region_code`; it gets a ZX- case number and is answered within the
    bureau's working-day clock (`clock.due_date`). A retry with the same Idempotency-Key and body returns the first
    response."""
    asking = consultation_service.Asking(
        consumer_id=principal.sub, question=body.question, sector=body.sector, region_code=body.region_code,
        channel=body.channel, filer=Actor(ActorRole.CONSUMER, principal.sub),
        working_days=_answer_period(runtime.settings),
        idempotency_key=validate_key(idempotency_key) if idempotency_key is not None else None,
        body_hash=idempotency.request_hash(body))
    stored = await consultation_service.file(session, asking, cipher)
    return JSONResponse(stored.body, status_code=stored.status,
                        headers={"Location": f"{consumer_router.prefix}/{stored.body['id']}"})


@consumer_router.get("", response_model=ConsultationList, summary="My consultations, newest first")
async def list_my_consultations(principal: ConsumerPrincipal, session: DbSession, cursor: str | None = None,
                                limit: PageSize = 20) -> ConsultationList:
    """The caller's consultations (also those staff recorded for the caller's phone), newest first."""
    return await consultation_service.list_consultations(
        session, conditions=consultation_service.consumer_conditions(principal.sub), cursor=cursor, limit=limit)


@consumer_router.get("/{consultation_id}", response_model=ConsultationRead, summary="One of my consultations")
async def get_my_consultation(consultation_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                              cipher: Cipher) -> ConsultationRead:
    """Question, answer, clock and timeline; 404 for anyone else's."""
    return await consultation_service.get_for_consumer(session, consultation_id=consultation_id,
                                                       consumer_id=principal.sub, cipher=cipher)


@consumer_router.post("/{consultation_id}/complaint", status_code=201, response_model=ComplaintRead,
                      summary="File a complaint from my consultation",
                      responses={409: {"description": "A complaint was filed from this consultation already"}})
async def file_complaint_from_consultation(
    consultation_id: uuid.UUID,
    body: ComplaintFromConsultation,
    principal: ConsumerPrincipal,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    publisher: Events,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """A complaint prefilled from the consultation: its question becomes the facts (unless `facts` is given), its
    sector and channel are kept; the body adds the complainant, the business and the request. Routed like any
    complaint; the consultation's `complaint_id` and the complaint's timeline link the two. Once per consultation."""
    stored = await consultation_service.file_complaint(
        session, consultation_id=consultation_id, consumer_id=principal.sub, body=body,
        idempotency_key=validate_key(idempotency_key) if idempotency_key is not None else None, cipher=cipher,
        publisher=publisher, negotiation_periods=negotiation_periods_of(runtime))
    return JSONResponse(stored.body, status_code=stored.status,
                        headers={"Location": f"/v1/consumer/complaints/{stored.body['id']}"})


@regulator_router.post("", status_code=201, response_model=ConsultationRead,
                       summary="Record a caller's or walk-in's question (hotline, service station)")
async def record_consultation(body: StaffConsultationCreate, principal: StaffPrincipal, session: DbSession,
                              cipher: Cipher, runtime: Runtime) -> JSONResponse:
    """A hotline operator or station staff record a question for someone; the consultation belongs to the asker's
    phone (their login sees it). Station staff always file as channel `station`; a regulator must govern
    `region_code`."""
    station_id = None
    channel = body.channel
    if Role.STATION_STAFF in principal.roles and Role.REGULATOR not in principal.roles:
        if principal.station_id is None:
            raise Problem("forbidden", "The token names no service station")
        station_id, channel = principal.station_id, Channel.STATION
        role = ActorRole.STATION_STAFF
    else:
        if not principal.governs(body.region_code):
            raise Problem("forbidden", "The token does not govern that region")
        if channel is Channel.STATION:
            raise Problem("validation-error", "Only station staff file through the station channel",
                          errors=[{"field": "body.channel", "message": "not a channel you file through",
                                   "code": "value_error"}])
        role = ActorRole.REGULATOR
    asking = consultation_service.Asking(
        consumer_id=consumer_subject(body.asker.phone, runtime.settings.subject_key.get_secret_value()),
        question=body.question, sector=body.sector, region_code=body.region_code, channel=channel,
        filer=Actor(role, principal.sub), working_days=_answer_period(runtime.settings), asker=body.asker,
        station_id=station_id)
    stored = await consultation_service.file(session, asking, cipher)
    return JSONResponse(stored.body, status_code=stored.status,
                        headers={"Location": f"{regulator_router.prefix}/{stored.body['id']}"})


@regulator_router.get("", response_model=ConsultationList, summary="Consultations of the regions I govern")
async def list_region_consultations(
    principal: RegulatorPrincipal,
    session: DbSession,
    status: ConsultationStatus | None = ConsultationStatus.OPEN,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ConsultationList:
    """Consultations in `region` (default: the caller's own) and below, newest first; open ones unless `status`
    says otherwise."""
    scope = region or principal.region
    if scope is None or not principal.governs(scope):
        raise Problem("forbidden", "The token does not govern that region")
    return await consultation_service.list_consultations(
        session, conditions=consultation_service.region_conditions(scope, status), cursor=cursor, limit=limit)


@regulator_router.get("/{consultation_id}", response_model=ConsultationRead,
                      summary="A consultation of a region I govern")
async def get_region_consultation(consultation_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession,
                                  cipher: Cipher) -> ConsultationRead:
    """With the asker's name and phone when staff recorded it; 404 outside the caller's regions."""
    return await consultation_service.get_for_regulator(session, consultation_id=consultation_id,
                                                        principal=principal, cipher=cipher)


@regulator_router.post("/{consultation_id}/answer", response_model=ConsultationRead, summary="Answer",
                       responses={409: {"description": "Answered already"}})
async def answer_consultation(consultation_id: uuid.UUID, body: AnswerIn, principal: RegulatorPrincipal,
                              session: DbSession, cipher: Cipher) -> ConsultationRead:
    """open -> answered; the clock is met, or stays breached when it had run out."""
    return await consultation_service.answer(session, consultation_id=consultation_id, principal=principal,
                                             body=body, cipher=cipher)
