"""Enrollment use cases and the steps they are made of.

Use cases (no leading `stage_`) open and commit one transaction: state, audit row and outbox event together.
Steps (`stage_*`) run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.service import IssuedClient, issue_api_client, revoke_api_clients
from merchants.enrollment.models import Enrollment, EnrollmentEvent, opened_reason, sealed_reason
from merchants.enrollment.schemas import EnterpriseList, EnterpriseRead, StatusChange
from merchants.enrollment.state import EnrollmentAction, EnrollmentStatus, next_status
from merchants.registry.models import Merchant
from merchants.registry.service import MerchantDetails, find_by_uscc, register_merchant, update_merchant
from merchants.settings import EVENT_SOURCE
from servicekit import regions
from servicekit.auth import Principal
from servicekit.contracts.merchants_v1 import (
    EnrollmentApproved,
    EnrollmentReinstated,
    EnrollmentRevoked,
    EnrollmentStatusChanged,
    EnrollmentSuspended,
)
from servicekit.db import new_id, utcnow
from servicekit.events.outbox import Outbox
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

RegionCheck = Callable[[str], bool]
# Statuses an enrollment reaches only through an approval: the enterprises a regulator oversees.
ENROLLED_STATUSES = (EnrollmentStatus.APPROVED, EnrollmentStatus.SUSPENDED, EnrollmentStatus.REVOKED)

STATUS_EVENTS: dict[EnrollmentAction, type[EnrollmentStatusChanged]] = {
    EnrollmentAction.SUSPEND: EnrollmentSuspended,
    EnrollmentAction.REINSTATE: EnrollmentReinstated,
    EnrollmentAction.REVOKE: EnrollmentRevoked,
}


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit trail: a role (regulator, system, ...) and an id within it."""

    role: str
    id: str


def _audit(session: AsyncSession, enrollment: Enrollment, previous: EnrollmentStatus | None, *, actor: Actor,
           reason: str | None, at: datetime, cipher: PiiCipher) -> None:
    event_id = new_id()
    session.add(EnrollmentEvent(id=event_id, enrollment_id=enrollment.id, at=at,
                                from_status=previous.value if previous else None, to_status=enrollment.status,
                                actor_role=actor.role, actor_id=actor.id,
                                reason_enc=sealed_reason(cipher, event_id, reason)))


def _move(session: AsyncSession, enrollment: Enrollment, action: EnrollmentAction, *, actor: Actor,
          reason: str | None, cipher: PiiCipher) -> datetime:
    """Apply `action` by the transition table, stamp its time and write the audit row; returns the time."""
    previous = EnrollmentStatus(enrollment.status)
    enrollment.status = next_status(previous, action).value
    now = utcnow()
    stamp = {EnrollmentAction.APPROVE: "approved_at", EnrollmentAction.REJECT: "rejected_at",
             EnrollmentAction.SUSPEND: "suspended_at", EnrollmentAction.REVOKE: "revoked_at"}.get(action)
    if stamp:
        setattr(enrollment, stamp, now)
    if action is EnrollmentAction.APPLY:
        enrollment.applied_at = now
    _audit(session, enrollment, previous, actor=actor, reason=reason, at=now, cipher=cipher)
    return now


async def stage_application(session: AsyncSession, *, details: MerchantDetails, actor: Actor,
                            cipher: PiiCipher) -> tuple[Merchant, Enrollment]:
    """Register the merchant (or refresh its details) and open a pending enrollment; 409 while one is open."""
    merchant = await find_by_uscc(session, details.uscc)
    existing = await _enrollment_for_update(session, merchant.id) if merchant else None
    if merchant is not None and existing is not None:
        _move(session, existing, EnrollmentAction.APPLY, actor=actor, reason="application received again",
              cipher=cipher)
        await update_merchant(session, merchant, details)
        return merchant, existing
    if merchant is None:
        merchant = await register_merchant(session, details)
    else:
        await update_merchant(session, merchant, details)  # registered, but never applied before
    enrollment = Enrollment(merchant_id=merchant.id, status=EnrollmentStatus.PENDING.value)
    session.add(enrollment)
    await session.flush()
    _audit(session, enrollment, None, actor=actor, reason="application received", at=utcnow(), cipher=cipher)
    return merchant, enrollment


async def apply_for_enrollment(session: AsyncSession, *, details: MerchantDetails, actor: Actor,
                               cipher: PiiCipher) -> Enrollment:
    """Use case: register the merchant and open a pending ODR enrollment for it."""
    async with session.begin():
        _, enrollment = await stage_application(session, details=details, actor=actor, cipher=cipher)
    return enrollment


async def enrollment_of_merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Enrollment | None:
    """The merchant's enrollment, if it ever applied."""
    return (await session.execute(
        select(Enrollment).where(Enrollment.merchant_id == merchant_id)
    )).scalar_one_or_none()


async def _enrollment_for_update(session: AsyncSession, merchant_id: uuid.UUID) -> Enrollment | None:
    return (await session.execute(
        select(Enrollment).where(Enrollment.merchant_id == merchant_id).with_for_update()
    )).scalar_one_or_none()


async def locked_enrollment(session: AsyncSession, enrollment_id: uuid.UUID) -> tuple[Enrollment, Merchant]:
    """The enrollment (locked) and its merchant, or a 404 problem."""
    row = (await session.execute(
        select(Enrollment, Merchant)
        .join(Merchant, Merchant.id == Enrollment.merchant_id)
        .where(Enrollment.id == enrollment_id)
        .with_for_update(of=Enrollment)
    )).one_or_none()
    if row is None:
        raise Problem("not-found", "No such enrollment")
    return row[0], row[1]


async def stage_approval(session: AsyncSession, *, outbox: Outbox, enrollment: Enrollment, merchant: Merchant,
                         actor: Actor, reason: str | None, cipher: PiiCipher,
                         issue_client: bool = True) -> IssuedClient | None:
    """Approve, issue the enterprise's first API client (unless the applicant fetches it later, see
    `stage_credentials_handover`) and announce the approval."""
    approved_at = _move(session, enrollment, EnrollmentAction.APPROVE, actor=actor, reason=reason, cipher=cipher)
    issued = await issue_api_client(session, merchant_id=merchant.id) if issue_client else None
    await outbox.add(session, EnrollmentApproved(
        merchant_id=merchant.id, name=merchant.name, uscc=merchant.uscc, region_code=merchant.region_code,
        sector=merchant.sector, approved_at=approved_at,
    ).envelope(source=EVENT_SOURCE))
    return issued


async def stage_credentials_handover(session: AsyncSession, *, enrollment: Enrollment, actor: Actor,
                                     cipher: PiiCipher) -> IssuedClient:
    """Issue the first API client of an approved enterprise to its applicant, on the audit trail; 409 unless the
    enrollment is approved (suspended or revoked since)."""
    if enrollment.status != EnrollmentStatus.APPROVED:
        raise Problem("conflict", f"The enterprise is {enrollment.status}; no credentials are handed over",
                      current_status=enrollment.status)
    issued = await issue_api_client(session, merchant_id=enrollment.merchant_id)
    _audit(session, enrollment, EnrollmentStatus.APPROVED, actor=actor, at=utcnow(),
           reason="first API credentials retrieved by the applicant through its one-time link", cipher=cipher)
    return issued


def stage_rejection(session: AsyncSession, *, enrollment: Enrollment, actor: Actor, reason: str,
                    cipher: PiiCipher) -> None:
    """Reject a pending enrollment (nothing is announced: no other service knew of it)."""
    _move(session, enrollment, EnrollmentAction.REJECT, actor=actor, reason=reason, cipher=cipher)


async def approve_enrollment(session: AsyncSession, *, outbox: Outbox, enrollment_id: uuid.UUID, actor: Actor,
                             cipher: PiiCipher, reason: str | None = None) -> IssuedClient:
    """Use case: approve a pending enrollment, issue the enterprise's first API client, announce it (the seed's and
    the operators' way; an application's approval hands the credentials to the applicant instead)."""
    async with session.begin():
        enrollment, merchant = await locked_enrollment(session, enrollment_id)
        issued = await stage_approval(session, outbox=outbox, enrollment=enrollment, merchant=merchant, actor=actor,
                                      reason=reason, cipher=cipher)
        assert issued is not None
        return issued


async def stage_status_change(session: AsyncSession, *, outbox: Outbox, merchant_id: uuid.UUID,
                              action: EnrollmentAction, actor: Actor, reason: str, may_act: RegionCheck,
                              cipher: PiiCipher) -> Enrollment:
    """Suspend, reinstate or revoke (revocation also kills the credentials) and announce it."""
    event_type = STATUS_EVENTS[action]
    merchant = await session.get(Merchant, merchant_id)
    enrollment = await _enrollment_for_update(session, merchant_id) if merchant else None
    if merchant is None or enrollment is None or not may_act(merchant.region_code):
        raise Problem("not-found", "No such ODR enterprise in the regions you govern")
    changed_at = _move(session, enrollment, action, actor=actor, reason=reason, cipher=cipher)
    if action is EnrollmentAction.REVOKE:
        await revoke_api_clients(session, merchant_id=merchant_id)
    await outbox.add(session, event_type(
        merchant_id=merchant_id, changed_at=changed_at,
        reason_sealed=event_type.seal_reason(cipher, merchant_id=merchant_id, reason=reason),
    ).envelope(source=EVENT_SOURCE))
    return enrollment


async def change_status(session: AsyncSession, *, outbox: Outbox, merchant_id: uuid.UUID, action: EnrollmentAction,
                        actor: Actor, reason: str, may_act: RegionCheck, cipher: PiiCipher) -> Enrollment:
    """Use case: suspend, reinstate or revoke an enterprise in one transaction."""
    async with session.begin():
        return await stage_status_change(session, outbox=outbox, merchant_id=merchant_id, action=action,
                                         actor=actor, reason=reason, may_act=may_act, cipher=cipher)


async def list_enterprises(session: AsyncSession, *, principal: Principal, status: EnrollmentStatus | None,
                           search: str | None, cursor: str | None, limit: int, cipher: PiiCipher) -> EnterpriseList:
    """The approved, suspended and revoked enterprises of the regions the regulator governs (or those of one
    status), by id; `search` matches a part of the name or the start of the unified social credit code."""
    if not principal.region:
        raise Problem("forbidden", "The token names no region")
    query = (select(Enrollment, Merchant).join(Merchant, Merchant.id == Enrollment.merchant_id)
             .where(Merchant.region_code.startswith(regions.prefix(principal.region), autoescape=True),
                    Enrollment.status.in_([status] if status else ENROLLED_STATUSES))
             .order_by(Merchant.id).limit(limit + 1))
    if search:
        query = query.where(or_(Merchant.name.icontains(search, autoescape=True),
                                Merchant.uscc.startswith(search.upper(), autoescape=True)))
    if cursor is not None:
        query = query.where(Merchant.id > decode_cursor(cursor))
    page, next_cursor = page_of((await session.execute(query)).all(), limit, lambda row: row[1].id)
    latest = {event.enrollment_id: event for event in (await session.scalars(
        select(EnrollmentEvent).ext(distinct_on(EnrollmentEvent.enrollment_id))
        .where(EnrollmentEvent.enrollment_id.in_([enrollment.id for enrollment, _ in page]))
        .order_by(EnrollmentEvent.enrollment_id, EnrollmentEvent.at.desc()))).all()}
    items = []
    for enrollment, merchant in page:
        change = latest[enrollment.id]
        items.append(EnterpriseRead(
            merchant_id=merchant.id, name=merchant.name, uscc=merchant.uscc, region_code=merchant.region_code,
            sector=merchant.sector, address=merchant.address, status=enrollment.status,
            approved_at=enrollment.approved_at, suspended_at=enrollment.suspended_at,
            revoked_at=enrollment.revoked_at,
            last_change=StatusChange(at=change.at, from_status=change.from_status, to_status=change.to_status,
                                     actor_role=change.actor_role, reason=opened_reason(cipher, change))))
    return EnterpriseList(items=items, next_cursor=next_cursor)
