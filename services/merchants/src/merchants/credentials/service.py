"""Issuing, rotating and checking credentials. Checks answer the same way, and as slowly, for every failure."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.hashing import hash_secret_async, verify_secret_async
from merchants.credentials.models import ApiClient, StaffAccount
from merchants.enrollment.models import Enrollment
from merchants.enrollment.state import EnrollmentStatus
from merchants.registry.models import Merchant
from servicekit.db import utcnow
from servicekit.problems import Problem

CLIENT_ID_PREFIX = "odr_"


@dataclass(frozen=True)
class IssuedClient:
    """A new client; the plain secret exists only in this object and is shown once."""

    merchant_id: uuid.UUID
    client_id: str
    client_secret: str


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


@dataclass(frozen=True)
class StaffIdentity:
    username: str
    role: str
    region_code: str
    station_id: uuid.UUID | None


async def issue_api_client(session: AsyncSession, *, merchant_id: uuid.UUID) -> IssuedClient:
    """Stage a new API client for the merchant in the caller's transaction."""
    issued = IssuedClient(
        merchant_id=merchant_id,
        client_id=CLIENT_ID_PREFIX + secrets.token_hex(12),
        client_secret=secrets.token_urlsafe(32),
    )
    session.add(ApiClient(client_id=issued.client_id, merchant_id=merchant_id,
                          secret_hash=await hash_secret_async(issued.client_secret)))
    await session.flush()
    return issued


async def revoke_api_clients(session: AsyncSession, *, merchant_id: uuid.UUID) -> int:
    """Revoke every live client of the merchant in the caller's transaction; returns how many."""
    result = await session.execute(
        update(ApiClient)
        .where(ApiClient.merchant_id == merchant_id, ApiClient.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


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


async def verify_staff_password(session: AsyncSession, *, username: str, password: str) -> StaffIdentity | None:
    """The staff member whose enabled account has this password, else None."""
    account = (await session.execute(
        select(StaffAccount).where(StaffAccount.username == username)
    )).scalar_one_or_none()
    matches = await verify_secret_async(password, account.password_hash if account else None)
    if account is None or not matches or account.disabled_at is not None:
        return None
    return StaffIdentity(username=account.username, role=account.role, region_code=account.region_code,
                         station_id=account.station_id)


async def upsert_staff_account(session: AsyncSession, *, username: str, password: str, role: str,
                               region_code: str, display_name: str,
                               station_id: uuid.UUID | None = None) -> StaffAccount:
    """Use case: create the account, or reset its password and profile if it exists."""
    password_hash = await hash_secret_async(password)
    async with session.begin():
        account = (await session.execute(
            select(StaffAccount).where(StaffAccount.username == username).with_for_update()
        )).scalar_one_or_none()
        if account is None:
            account = StaffAccount(username=username)
            session.add(account)
        account.password_hash = password_hash
        account.role = role
        account.region_code = region_code
        account.display_name = display_name
        account.station_id = station_id
        account.disabled_at = None
    return account
