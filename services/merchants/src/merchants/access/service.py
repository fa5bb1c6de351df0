"""Who may act: an enterprise client counts only while it is live and its enrollment is approved, so this sits above
credentials and enrollment. Checks answer the same way, and as slowly, for every failure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.hashing import verify_secret_async
from merchants.credentials.models import ApiClient
from merchants.credentials.service import IssuedClient, issue_api_client, revoke_api_clients
from merchants.enrollment.models import Enrollment
from merchants.enrollment.state import EnrollmentStatus
from merchants.registry.models import Merchant
from servicekit.db import utcnow
from servicekit.problems import Problem


@dataclass(frozen=True)
class RotatedClient:
    """The new client, and until when the replaced ones keep working (None: revoked at once)."""

    issued: IssuedClient
    previous_valid_until: datetime | None


@dataclass(frozen=True)
class EnterpriseIdentity:
    merchant_id: uuid.UUID
    client_id: str
    region_code: str


async def rotate_api_client(session: AsyncSession, *, merchant_id: uuid.UUID,
                            overlap: timedelta = timedelta(0)) -> RotatedClient:
    """Use case: issue a new client; the live ones stop working after `overlap` (at once when it is zero)."""
    async with session.begin():
        status = await session.scalar(
            select(Enrollment.status).where(Enrollment.merchant_id == merchant_id).with_for_update())
        if status != EnrollmentStatus.APPROVED:
            raise Problem("conflict", "Only an approved ODR enterprise can rotate its credentials",
                          current_status=status)
        now = utcnow()
        if overlap > timedelta(0):
            retired_until: datetime | None = now + overlap
            await session.execute(
                update(ApiClient)
                .where(ApiClient.merchant_id == merchant_id, ApiClient.revoked_at.is_(None),
                       or_(ApiClient.expires_at.is_(None), ApiClient.expires_at > retired_until))
                .values(expires_at=retired_until)
            )
        else:
            retired_until = None
            await revoke_api_clients(session, merchant_id=merchant_id)
        issued = await issue_api_client(session, merchant_id=merchant_id)
    return RotatedClient(issued=issued, previous_valid_until=retired_until)


def _usable(revoked_at: datetime | None, expires_at: datetime | None, status: str | None) -> bool:
    return (revoked_at is None and (expires_at is None or expires_at > utcnow())
            and status == EnrollmentStatus.APPROVED)


async def verify_client_credentials(session: AsyncSession, *, client_id: str,
                                    client_secret: str) -> EnterpriseIdentity | None:
    """The enterprise behind a live client of an approved enrollment whose secret matches, else None."""
    row = (await session.execute(
        select(ApiClient.secret_hash, ApiClient.revoked_at, ApiClient.expires_at, ApiClient.merchant_id,
               Merchant.region_code, Enrollment.status)
        .join(Merchant, Merchant.id == ApiClient.merchant_id)
        .outerjoin(Enrollment, Enrollment.merchant_id == ApiClient.merchant_id)
        .where(ApiClient.client_id == client_id)
    )).one_or_none()
    # Hash first, decide after: a revoked or suspended client costs the same time as a wrong secret.
    matches = await verify_secret_async(client_secret, row.secret_hash if row else None)
    if row is None or not matches or not _usable(row.revoked_at, row.expires_at, row.status):
        return None
    return EnterpriseIdentity(merchant_id=row.merchant_id, client_id=client_id, region_code=row.region_code)


async def client_is_active(session: AsyncSession, *, client_id: str) -> bool:
    """True while tokens issued to this client may still be honoured (live client, approved enrollment)."""
    row = (await session.execute(
        select(ApiClient.revoked_at, ApiClient.expires_at, Enrollment.status)
        .outerjoin(Enrollment, Enrollment.merchant_id == ApiClient.merchant_id)
        .where(ApiClient.client_id == client_id)
    )).one_or_none()
    return row is not None and _usable(row.revoked_at, row.expires_at, row.status)
