"""Enterprise API clients and staff accounts: issuing and revoking clients, setting and checking staff passwords.

The password check answers the same way, and as slowly, for every failure."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.hashing import hash_secret_async, verify_secret_async
from merchants.credentials.models import ApiClient, StaffAccount
from servicekit.db import utcnow

CLIENT_ID_PREFIX = "odr_"


@dataclass(frozen=True)
class IssuedClient:
    """A new client; the plain secret exists only in this object and is shown once."""

    merchant_id: uuid.UUID
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class StaffIdentity:
    username: str
    role: str
    region_code: str
    station_id: uuid.UUID | None
    merchant_id: uuid.UUID | None


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


async def verify_staff_password(session: AsyncSession, *, username: str, password: str) -> StaffIdentity | None:
    """The staff member whose enabled account has this password, else None."""
    account = (await session.execute(
        select(StaffAccount).where(StaffAccount.username == username)
    )).scalar_one_or_none()
    matches = await verify_secret_async(password, account.password_hash if account else None)
    if account is None or not matches or account.disabled_at is not None:
        return None
    return StaffIdentity(username=account.username, role=account.role, region_code=account.region_code,
                         station_id=account.station_id, merchant_id=account.merchant_id)


async def upsert_staff_account(session: AsyncSession, *, username: str, password: str, role: str,
                               region_code: str, display_name: str,
                               station_id: uuid.UUID | None = None,
                               merchant_id: uuid.UUID | None = None) -> StaffAccount:
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
        account.merchant_id = merchant_id
        account.activation_code_hash = None
        account.activation_expires_at = None
        account.disabled_at = None
    return account
