"""Enrollment use cases: each one commits state, audit row and outbox event together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from servicekit.contracts.merchants_v1 import EnrollmentApproved
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.problems import Problem
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.service import IssuedClient, issue_api_client
from merchants.enrollment.models import Enrollment, EnrollmentEvent
from merchants.enrollment.state import EnrollmentStatus, transition
from merchants.registry.models import Merchant
from merchants.registry.service import MerchantDetails, register_merchant
from merchants.settings import EVENT_SOURCE


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit trail: a role (regulator, system, ...) and an id within it."""

    role: str
    id: str


async def apply_for_enrollment(session: AsyncSession, *, details: MerchantDetails, actor: Actor) -> Enrollment:
    """Use case: register the merchant and open a pending ODR enrollment for it."""
    async with session.begin():
        merchant = await register_merchant(session, details)
        enrollment = Enrollment(merchant_id=merchant.id, status=EnrollmentStatus.PENDING.value)
        session.add(enrollment)
        await session.flush()
        session.add(EnrollmentEvent(enrollment_id=enrollment.id, from_status=None,
                                    to_status=EnrollmentStatus.PENDING.value, actor_role=actor.role,
                                    actor_id=actor.id, reason="application received"))
    return enrollment


async def enrollment_of_merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Enrollment | None:
    """The merchant's enrollment, if it ever applied."""
    return (await session.execute(
        select(Enrollment).where(Enrollment.merchant_id == merchant_id)
    )).scalar_one_or_none()


async def approve_enrollment(session: AsyncSession, *, outbox: Outbox, enrollment_id: uuid.UUID, actor: Actor,
                             reason: str | None = None) -> IssuedClient:
    """Use case: approve a pending enrollment, issue the enterprise's first API client, announce it."""
    async with session.begin():
        row = (await session.execute(
            select(Enrollment, Merchant)
            .join(Merchant, Merchant.id == Enrollment.merchant_id)
            .where(Enrollment.id == enrollment_id)
            .with_for_update(of=Enrollment)
        )).one_or_none()
        if row is None:
            raise Problem("not-found", "No such enrollment")
        enrollment, merchant = row
        previous = EnrollmentStatus(enrollment.status)
        enrollment.status = transition(previous, EnrollmentStatus.APPROVED).value
        enrollment.approved_at = utcnow()
        session.add(EnrollmentEvent(enrollment_id=enrollment.id, at=enrollment.approved_at,
                                    from_status=previous.value, to_status=enrollment.status,
                                    actor_role=actor.role, actor_id=actor.id, reason=reason))
        issued = await issue_api_client(session, merchant_id=merchant.id)
        await outbox.add(session, EnrollmentApproved(
            merchant_id=merchant.id, name=merchant.name, uscc=merchant.uscc, region_code=merchant.region_code,
            sector=merchant.sector, approved_at=enrollment.approved_at,
        ).envelope(source=EVENT_SOURCE))
    return issued
