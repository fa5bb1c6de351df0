"""ODR applications: enterprises apply without a token; regulators review those of their regions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from merchants.applications import service as application_service
from merchants.applications.models import ApplicationStatus
from merchants.applications.schemas import (
    ApplicantStatus,
    ApplicationCreate,
    ApplicationCreated,
    ApplicationList,
    ApplicationRead,
    Credentials,
    CredentialsRetrieval,
    OptionalNote,
    PortalActivation,
)
from merchants.dependencies import Regulator, Settings
from merchants.enrollment.schemas import Reason
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize
from servicekit.problems import problem_responses, raises
from servicekit.ratelimit import TokenBuckets, forwarded_client_address

public_router = APIRouter(prefix="/v1/public/odr-applications", tags=["public: ODR applications"])
regulator_router = APIRouter(prefix="/v1/regulator/odr-applications", tags=["regulator: ODR applications"])

APPLICATION_LIMITS = "application_limits"


@raises(429)
async def limit_applications(request: Request, runtime: Runtime, settings: Settings) -> None:
    """Dependency: a token bucket per client address, taken before the body is even validated."""
    buckets = runtime.extras.get(APPLICATION_LIMITS)
    if buckets is None:
        buckets = runtime.extras[APPLICATION_LIMITS] = TokenBuckets(rate=settings.applications_per_hour / 3600,
                                                                    burst=settings.applications_burst)
    buckets.take_or_refuse(forwarded_client_address(request),
                           "Too many applications from this address; try again later")


@public_router.post("", status_code=201, response_model=ApplicationCreated, summary="Apply to become an ODR enterprise",
                    dependencies=[Depends(limit_applications)],
                    responses={409: {"description": "An application for this code is pending or it is enrolled"},
                               413: {"description": "The business licence is larger than 5 MB"},
                               415: {"description": "The business licence is not a PDF, JPEG or PNG file"},
                               429: {"description": "Too many applications from this address"}})
async def apply(body: ApplicationCreate, request: Request, session: DbSession, settings: Settings,
                cipher: Cipher) -> JSONResponse:
    """File an application with its business licence (base64) and the enrollment criteria."""
    application, status_token = await application_service.submit_application(session, application_service.Submission(
        body=body, client_address=forwarded_client_address(request), licence_dir=settings.licence_dir,
        licence_max_bytes=settings.licence_max_bytes, cipher=cipher))
    created = ApplicationCreated(
        id=application.id, status=application.status, merchant_id=application.merchant_id,
        licence=application_service.licence_read(application, cipher), status_token=status_token)
    return JSONResponse(created.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"{public_router.prefix}/{application.id}/status",
                                 "Cache-Control": "no-store"})


@public_router.get("/{application_id}/status", response_model=ApplicantStatus, summary="My application's status",
                   responses=problem_responses(404, 422))
async def applicant_status(application_id: uuid.UUID, session: DbSession, cipher: Cipher,
                           x_application_token: Annotated[str, Header(min_length=1, max_length=200)]) -> JSONResponse:
    """For the applicant, with the `status_token` it received on applying (header `X-Application-Token`); no account
    needed. Once approved, `credentials` holds the one-time link to the enterprise's API credentials."""
    status = await application_service.applicant_status(session, cipher, application_id=application_id,
                                                        status_token=x_application_token)
    return JSONResponse(status.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@public_router.post("/{application_id}/credentials", response_model=Credentials,
                    summary="Fetch the enterprise's first API credentials, once",
                    responses=problem_responses(404, 409, 422))
async def retrieve_credentials(application_id: uuid.UUID, body: CredentialsRetrieval,
                               session: DbSession, settings: Settings, cipher: Cipher) -> JSONResponse:
    """The one-time link of an approved application: its `retrieval_token` gives the client_id and client_secret,
    and the first portal admin's username and activation code, shown in this answer only; 409 once used or
    expired."""
    handed = await application_service.retrieve_credentials(
        session, cipher, application_id=application_id, retrieval_token=body.retrieval_token,
        activation_ttl=timedelta(seconds=settings.portal_activation_ttl_seconds))
    admin = handed.portal_admin
    credentials = Credentials(
        merchant_id=handed.client.merchant_id, client_id=handed.client.client_id,
        client_secret=handed.client.client_secret,
        portal_admin=PortalActivation(username=admin.account.username, activation_code=admin.code,
                                      activation_expires_at=admin.expires_at) if admin else None)
    return JSONResponse(credentials.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@regulator_router.get("", response_model=ApplicationList, summary="Applications of the regions I govern",
                      responses=problem_responses(401, 403, 422))
async def list_applications(
    principal: Regulator,
    session: DbSession,
    cipher: Cipher,
    status: ApplicationStatus | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="Part of the name, or the start of the credit code")] = None,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ApplicationList:
    """Oldest first, so the review queue is worked in order."""
    return await application_service.list_applications(session, principal=principal, status=status, search=q,
                                                       cursor=cursor, limit=limit, cipher=cipher)


@regulator_router.get("/{application_id}", response_model=ApplicationRead, summary="One application",
                      responses=problem_responses(401, 403, 404, 422))
async def get_application(application_id: uuid.UUID, principal: Regulator, session: DbSession,
                          cipher: Cipher) -> ApplicationRead:
    """The dossier, criteria and licence metadata."""
    _, read = await application_service.get_application(session, application_id=application_id, principal=principal,
                                                        cipher=cipher)
    return read


@regulator_router.get("/{application_id}/licence", summary="The uploaded business licence",
                      response_class=FileResponse, responses=problem_responses(401, 403, 404, 422))
async def get_licence(application_id: uuid.UUID, principal: Regulator, session: DbSession,
                      cipher: Cipher) -> FileResponse:
    """The file as uploaded, with its sniffed content type."""
    application, read = await application_service.get_application(session, application_id=application_id,
                                                                  principal=principal, cipher=cipher)
    return FileResponse(application.licence_path, media_type=application.licence_media_type,
                        filename=read.licence.filename)


@regulator_router.post("/{application_id}/approve", response_model=ApplicationRead, summary="Approve an application",
                       responses=problem_responses(401, 403, 404, 409, 422))
async def approve(application_id: uuid.UUID, principal: Regulator, session: DbSession, runtime: Runtime,
                  settings: Settings, cipher: Cipher, body: OptionalNote | None = None) -> ApplicationRead:
    """Approve: the enterprise is enrolled and announced. Its API credentials are not in this answer: the applicant
    fetches them through the one-time link in its own status view (`credentials_expire_at` says until when)."""
    await application_service.approve_application(
        session, cipher, outbox=runtime.outbox, application_id=application_id, principal=principal,
        reason=body.reason if body else None,
        credentials_ttl=timedelta(seconds=settings.credentials_link_ttl_seconds))
    _, read = await application_service.get_application(session, application_id=application_id, principal=principal,
                                                        cipher=cipher)
    return read


@regulator_router.post("/{application_id}/reject", response_model=ApplicationRead, summary="Reject an application",
                       responses=problem_responses(401, 403, 404, 409, 422))
async def reject(application_id: uuid.UUID, body: Reason, principal: Regulator, session: DbSession,
                 cipher: Cipher) -> ApplicationRead:
    """Reject with a reason; the enterprise may apply again."""
    await application_service.reject_application(session, cipher, application_id=application_id, principal=principal,
                                                 reason=body.reason)
    _, read = await application_service.get_application(session, application_id=application_id, principal=principal,
                                                        cipher=cipher)
    return read
