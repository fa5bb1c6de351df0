"""ODR application use cases: submission by the enterprise, approval or rejection by its regulator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.applications import access
from merchants.applications.licence import decode_licence, discard, store_licence
from merchants.applications.models import ApplicationStatus, OdrApplication, opened_decision_reason, sealed_context
from merchants.applications.schemas import (
    ApplicantStatus,
    ApplicationCreate,
    ApplicationList,
    ApplicationRead,
    Contact,
    CredentialsLink,
    Criteria,
    LicenceRead,
    OnlineStoreRead,
)
from merchants.credentials.service import IssuedClient
from merchants.enrollment import service as enrollment_service
from merchants.enrollment.service import Actor
from merchants.portal import service as portal_service
from merchants.portal.service import IssuedActivation
from merchants.registry.models import Merchant
from merchants.registry.service import MerchantDetails, OnlineStore, stores_of, valid_region, valid_uscc
from servicekit import regions
from servicekit.auth import Principal
from servicekit.db import new_id, utcnow
from servicekit.events.outbox import Outbox
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

APPLICANT = "applicant"


@dataclass(frozen=True)
class Submission:
    body: ApplicationCreate
    client_address: str
    licence_dir: Path
    licence_max_bytes: int
    cipher: PiiCipher


def _details(body: ApplicationCreate) -> MerchantDetails:
    return MerchantDetails(
        name=body.name, uscc=valid_uscc(body.uscc), region_code=valid_region(body.region_code), address=body.address,
        operating_address=body.operating_address, sector=body.sector,
        stores=tuple(OnlineStore(platform=store.platform, store_id=store.store_id) for store in body.online_stores),
    )


async def submit_application(session: AsyncSession, submission: Submission) -> tuple[OdrApplication, str]:
    """Use case: store the licence, register or refresh the merchant, open its enrollment and file the dossier;
    returns it with its status token (shown to the applicant this once, stored hashed).

    409 while the same code has an application pending or an enrollment approved (or suspended, or revoked).
    """
    body = submission.body
    details = _details(body)
    content = decode_licence(body.business_licence.content_base64, max_bytes=submission.licence_max_bytes)
    application_id = new_id()
    status_token = access.new_token()

    def sealed(value: str, field: str) -> bytes:
        return submission.cipher.encrypt(value, context=sealed_context(application_id, field))

    licence = await store_licence(content, directory=submission.licence_dir, application_id=application_id)
    try:
        async with session.begin():
            merchant, enrollment = await enrollment_service.stage_application(
                session, details=details, actor=_applicant(application_id), cipher=submission.cipher)
            criteria = body.criteria
            application = OdrApplication(
                id=application_id, merchant_id=merchant.id, enrollment_id=enrollment.id,
                status=ApplicationStatus.PENDING.value,
                submitted_from_enc=sealed(submission.client_address, "submitted_from"),
                contact_name_enc=sealed(body.contact.name, "contact_name"),
                contact_phone_enc=sealed(body.contact.phone, "contact_phone"),
                undertaking_accepted_at=utcnow(), handling_place=criteria.handling_place,
                complaint_staff_count=criteria.complaint_staff_count, complaint_phone=criteria.complaint_phone,
                networked_computer=criteria.networked_computer, handling_procedures=criteria.handling_procedures,
                cooperates_with_regulators=criteria.cooperates_with_regulators, licence_path=str(licence.path),
                licence_filename_enc=sealed(body.business_licence.filename, "licence_filename"),
                licence_media_type=licence.media_type,
                licence_size=licence.size, licence_sha256=licence.sha256,
                status_token_hash=access.digest(status_token),
            )
            session.add(application)
            await session.flush()
    except IntegrityError as exc:
        discard(licence.path)
        # Two first applications for one code raced past the checks; the unique constraints kept one.
        raise Problem("conflict", "An application for this unified social credit code is already open") from exc
    except BaseException:
        discard(licence.path)
        raise
    return application, status_token


def _applicant(application_id: uuid.UUID) -> Actor:
    """The applicant in the enrollment's audit trail, named by its application (which keeps the client address
    encrypted), so the trail holds no address in clear."""
    return Actor(role=APPLICANT, id=str(application_id))


def _opened(application: OdrApplication, cipher: PiiCipher, field: str) -> str:
    """One encrypted field of the application (`<field>_enc`), decrypted."""
    sealed: bytes = getattr(application, f"{field}_enc")
    return cipher.decrypt(sealed, context=sealed_context(application.id, field))


def licence_read(application: OdrApplication, cipher: PiiCipher) -> LicenceRead:
    return LicenceRead(filename=_opened(application, cipher, "licence_filename"),
                       media_type=application.licence_media_type, size=application.licence_size,
                       sha256=application.licence_sha256)


async def _read(session: AsyncSession, application: OdrApplication, merchant: Merchant,
                cipher: PiiCipher) -> ApplicationRead:
    return ApplicationRead(
        id=application.id, status=application.status, merchant_id=merchant.id, name=merchant.name,
        uscc=merchant.uscc, region_code=merchant.region_code, address=merchant.address,
        operating_address=merchant.operating_address, sector=merchant.sector,
        online_stores=[OnlineStoreRead(platform=store.platform, store_id=store.store_id)
                       for store in await stores_of(session, merchant.id)],
        contact=Contact(name=_opened(application, cipher, "contact_name"),
                        phone=_opened(application, cipher, "contact_phone")),
        undertaking_accepted_at=application.undertaking_accepted_at,
        criteria=Criteria(
            handling_place=application.handling_place, complaint_staff_count=application.complaint_staff_count,
            complaint_phone=application.complaint_phone, networked_computer=application.networked_computer,
            handling_procedures=application.handling_procedures,
            cooperates_with_regulators=application.cooperates_with_regulators),
        licence=licence_read(application, cipher),
        submitted_at=application.submitted_at, decided_at=application.decided_at,
        decided_by=application.decided_by, decision_reason=opened_decision_reason(application, cipher),
        credentials_expire_at=application.credentials_expire_at,
        credentials_retrieved_at=application.credentials_retrieved_at,
    )


async def list_applications(session: AsyncSession, *, principal: Principal, status: ApplicationStatus | None,
                            search: str | None, cursor: str | None, limit: int,
                            cipher: PiiCipher) -> ApplicationList:
    """Applications of merchants in the regions the regulator governs, oldest first; `search` matches a part of the
    name or the start of the unified social credit code."""
    if not principal.region:
        raise Problem("forbidden", "The token names no region")
    query = (select(OdrApplication, Merchant).join(Merchant, Merchant.id == OdrApplication.merchant_id)
             .where(Merchant.region_code.startswith(regions.prefix(principal.region), autoescape=True))
             .order_by(OdrApplication.id).limit(limit + 1))
    if status is not None:
        query = query.where(OdrApplication.status == status.value)
    if search:
        query = query.where(or_(Merchant.name.icontains(search, autoescape=True),
                                Merchant.uscc.startswith(search.upper(), autoescape=True)))
    if cursor is not None:
        query = query.where(OdrApplication.id > decode_cursor(cursor))
    page, next_cursor = page_of((await session.execute(query)).all(), limit, lambda row: row[0].id)
    items = [await _read(session, application, merchant, cipher) for application, merchant in page]
    return ApplicationList(items=items, next_cursor=next_cursor)


async def get_application(session: AsyncSession, *, application_id: uuid.UUID, principal: Principal,
                          cipher: PiiCipher) -> tuple[OdrApplication, ApplicationRead]:
    """One application of the regulator's regions, or 404."""
    row = (await session.execute(
        select(OdrApplication, Merchant).join(Merchant, Merchant.id == OdrApplication.merchant_id)
        .where(OdrApplication.id == application_id)
    )).one_or_none()
    if row is None or not principal.governs(row[1].region_code):
        raise Problem("not-found", "No such application in the regions you govern")
    return row[0], await _read(session, row[0], row[1], cipher)


async def _pending_for_decision(session: AsyncSession, application_id: uuid.UUID,
                                principal: Principal) -> OdrApplication:
    application = (await session.execute(
        select(OdrApplication).where(OdrApplication.id == application_id).with_for_update()
    )).scalar_one_or_none()
    region = await session.scalar(select(Merchant.region_code).where(Merchant.id == application.merchant_id)
                                  ) if application else None
    if application is None or region is None or not principal.governs(region):
        raise Problem("not-found", "No such application in the regions you govern")
    if application.status != ApplicationStatus.PENDING:
        raise Problem("conflict", f"The application is already {application.status}",
                      current_status=application.status)
    return application


def _decide(application: OdrApplication, status: ApplicationStatus, actor: Actor, reason: str | None,
            cipher: PiiCipher) -> None:
    application.status = status.value
    application.decided_at = utcnow()
    application.decided_by = actor.id
    application.decision_reason_enc = (
        cipher.encrypt(reason, context=sealed_context(application.id, "decision_reason")) if reason else None)


async def approve_application(session: AsyncSession, cipher: PiiCipher, *, outbox: Outbox,
                              application_id: uuid.UUID, principal: Principal, reason: str | None,
                              credentials_ttl: timedelta) -> OdrApplication:
    """Use case: approve the application and its enrollment, announced by event; the application's contact becomes
    the enterprise's first portal admin. No credentials are issued here: the applicant fetches them (and the admin's
    activation code) through its one-time link (`retrieve_credentials`) within `credentials_ttl`."""
    actor = Actor(role="regulator", id=principal.sub)
    async with session.begin():
        application = await _pending_for_decision(session, application_id, principal)
        enrollment, merchant = await enrollment_service.locked_enrollment(session, application.enrollment_id)
        await enrollment_service.stage_approval(session, outbox=outbox, enrollment=enrollment, merchant=merchant,
                                                actor=actor, reason=reason, cipher=cipher, issue_client=False)
        _decide(application, ApplicationStatus.APPROVED, actor, reason, cipher)
        application.credentials_expire_at = utcnow() + credentials_ttl
        await portal_service.stage_first_admin(session, cipher, merchant=merchant,
                                               display_name=_opened(application, cipher, "contact_name"))
    return application


async def _applicants_own(session: AsyncSession, application_id: uuid.UUID, token: str,
                          stored: str) -> OdrApplication:
    """The application, locked, when `token` is its `stored` token; 404 alike for a wrong token or id."""
    application = (await session.execute(
        select(OdrApplication).where(OdrApplication.id == application_id).with_for_update()
    )).scalar_one_or_none()
    if application is None or not access.matches(getattr(application, stored), token):
        raise Problem("not-found", "No such application for this token")
    return application


async def applicant_status(session: AsyncSession, cipher: PiiCipher, *, application_id: uuid.UUID,
                           status_token: str) -> ApplicantStatus:
    """Use case: the applicant reads its application; once approved, with the one-time credentials link (whose
    token's hash is kept the first time it is shown)."""
    async with session.begin():
        application = await _applicants_own(session, application_id, status_token, "status_token_hash")
        link = None
        if application.status == ApplicationStatus.APPROVED and application.credentials_expire_at is not None:
            token = access.retrieval_token(status_token, application.id)
            if application.retrieval_token_hash is None:
                application.retrieval_token_hash = access.digest(token)
            state = ("retrieved" if application.credentials_retrieved_at is not None
                     else "expired" if utcnow() >= application.credentials_expire_at else "ready")
            link = CredentialsLink(state=state, url=f"/v1/public/odr-applications/{application.id}/credentials",
                                   retrieval_token=token if state == "ready" else None,
                                   expires_at=application.credentials_expire_at,
                                   retrieved_at=application.credentials_retrieved_at)
        return ApplicantStatus(id=application.id, status=application.status, merchant_id=application.merchant_id,
                               submitted_at=application.submitted_at, decided_at=application.decided_at,
                               decision_reason=opened_decision_reason(application, cipher), credentials=link)


@dataclass(frozen=True)
class HandedOver:
    """What the one-time link gives: the first API client, and the first portal admin's activation code (None when
    the admin has already chosen a password)."""

    client: IssuedClient
    portal_admin: IssuedActivation | None


async def retrieve_credentials(session: AsyncSession, cipher: PiiCipher, *, application_id: uuid.UUID,
                               retrieval_token: str, activation_ttl: timedelta) -> HandedOver:
    """Use case: the one-time link, used: issue the enterprise's first API client and the first portal admin's
    activation code, and show the secret and the code this once.

    404 for a wrong token; 409 once used, after it expired, or when the enterprise is no longer approved.
    """
    async with session.begin():
        application = await _applicants_own(session, application_id, retrieval_token, "retrieval_token_hash")
        if application.credentials_retrieved_at is not None:
            raise Problem("conflict", "These credentials were already retrieved; the link works once")
        now = utcnow()
        if application.credentials_expire_at is None or now >= application.credentials_expire_at:
            raise Problem("conflict", "The credentials link has expired; ask your regulator")
        enrollment, _ = await enrollment_service.locked_enrollment(session, application.enrollment_id)
        issued = await enrollment_service.stage_credentials_handover(
            session, enrollment=enrollment, actor=_applicant(application.id), cipher=cipher)
        admin = await portal_service.stage_first_admin_activation(session, merchant_id=application.merchant_id,
                                                                  ttl=activation_ttl)
        application.credentials_retrieved_at = now
    return HandedOver(client=issued, portal_admin=admin)


async def reject_application(session: AsyncSession, cipher: PiiCipher, *, application_id: uuid.UUID,
                             principal: Principal, reason: str) -> OdrApplication:
    """Use case: reject the application with a reason; the enterprise may apply again."""
    actor = Actor(role="regulator", id=principal.sub)
    async with session.begin():
        application = await _pending_for_decision(session, application_id, principal)
        enrollment, _ = await enrollment_service.locked_enrollment(session, application.enrollment_id)
        enrollment_service.stage_rejection(session, enrollment=enrollment, actor=actor, reason=reason, cipher=cipher)
        _decide(application, ApplicationStatus.REJECTED, actor, reason, cipher)
    return application
