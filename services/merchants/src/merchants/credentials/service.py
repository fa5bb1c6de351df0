"""Enterprise API clients and staff accounts: issuing and revoking clients, setting and checking staff passwords.

The password check answers the same way, and as slowly, for every failure; failures are counted in the account's
row (so the lockout holds across every process) and a TOTP code is required once the account has one."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials import totp
from merchants.credentials.hashing import hash_secret_async, verify_secret_async
from merchants.credentials.models import ApiClient, StaffAccount, StaffAuditEntry, StaffRegionPolicy
from servicekit import regions
from servicekit.db import utcnow
from servicekit.pii import PiiCipher

CLIENT_ID_PREFIX = "odr_"


@dataclass(frozen=True)
class IssuedClient:
    """A new client; the plain secret exists only in this object and is shown once."""

    merchant_id: uuid.UUID
    client_id: str
    client_secret: str


class SetupStep(StrEnum):
    """What a staff member must do, with a setup token, before a sign-in yields a working token."""

    PASSWORD_CHANGE = "password_change"
    TOTP_ENROLMENT = "totp_enrolment"


@dataclass(frozen=True)
class StaffIdentity:
    username: str
    role: str
    region_code: str
    station_id: uuid.UUID | None
    staff_admin: bool = False
    setup_required: tuple[SetupStep, ...] = ()
    # Set for a person of an ODR enterprise (the portal's users): their tokens are the enterprise's.
    merchant_id: uuid.UUID | None = None


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


@dataclass(frozen=True)
class LockoutRules:
    """`failures` failed sign-ins within `window` lock the account for `lock`."""

    failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


class SignInRefused(Exception):
    """Wrong username, password or code, a disabled or a locked account: one answer for all."""


class SecondFactorRequired(Exception):
    """The password was right; the account has TOTP and no code came with it."""


def totp_context(account_id: uuid.UUID) -> str:
    return f"staff_account:{account_id}:totp_secret"


def display_name_context(account_id: uuid.UUID) -> str:
    return f"staff_account:{account_id}:display_name"


async def totp_required_in_region(session: AsyncSession, region_code: str) -> str | None:
    """The region (the account's own or one above it) whose policy requires TOTP, else None."""
    codes = [region_code, *(region.code for region in regions.ancestors(region_code))]
    return await session.scalar(
        select(StaffRegionPolicy.region_code)
        .where(StaffRegionPolicy.region_code.in_(codes), StaffRegionPolicy.totp_required.is_(True))
        .order_by(StaffRegionPolicy.region_code.desc()).limit(1))


async def setup_steps(session: AsyncSession, account: StaffAccount) -> list[SetupStep]:
    steps = []
    if account.must_change_password:
        steps.append(SetupStep.PASSWORD_CHANGE)
    if account.totp_enabled_at is None and await totp_required_in_region(session, account.region_code):
        steps.append(SetupStep.TOTP_ENROLMENT)
    return steps


def is_locked(account: StaffAccount, now: datetime) -> bool:
    return account.locked_until is not None and account.locked_until > now


def record_failure(session: AsyncSession, account: StaffAccount, *, now: datetime, rules: LockoutRules) -> None:
    """Count a failed sign-in in the account's window; the last one allowed locks the account (audited)."""
    window_start = account.failure_window_started_at
    if window_start is None or now - window_start > rules.window:
        account.failure_window_started_at = now
        account.failed_attempts = 1
    else:
        account.failed_attempts += 1
    if account.failed_attempts >= rules.failures:
        account.locked_until = now + rules.lock
        account.failed_attempts = 0
        account.failure_window_started_at = None
        session.add(StaffAuditEntry(action="locked", actor="system", account_id=account.id,
                                    region_code=account.region_code, at=now,
                                    detail={"until": account.locked_until.isoformat()}))


def clear_failures(account: StaffAccount) -> None:
    account.failed_attempts = 0
    account.failure_window_started_at = None
    account.locked_until = None


async def sign_in_staff(session: AsyncSession, cipher: PiiCipher, *, username: str, password: str,
                        totp_code: str | None, rules: LockoutRules) -> StaffIdentity:
    """Use case: check a password grant (and its TOTP code) against the account, counting failures.

    Raises SignInRefused for every failure alike (unknown, wrong, disabled, locked; the hash is computed in every
    case, so the time does not tell them apart either) and SecondFactorRequired when only the code is missing. The
    row is locked for the check, so parallel guesses are counted one after the other.
    """
    refusal: type[Exception] | None
    identity: StaffIdentity | None = None
    async with session.begin():
        account = (await session.execute(
            select(StaffAccount).where(StaffAccount.username == username).with_for_update()
        )).scalar_one_or_none()
        matches = await verify_secret_async(password, account.password_hash if account else None)
        now = utcnow()
        if account is None or account.disabled_at is not None or is_locked(account, now):
            refusal = SignInRefused
        elif not matches:
            record_failure(session, account, now=now, rules=rules)
            refusal = SignInRefused
        elif account.totp_enabled_at is not None and account.totp_secret_enc is not None and not totp_code:
            refusal = SecondFactorRequired
        elif account.totp_enabled_at is not None and account.totp_secret_enc is not None:
            secret = cipher.decrypt(account.totp_secret_enc, context=totp_context(account.id))
            step = totp.accepted_step(bytes.fromhex(secret), totp_code or "", unix_time=now.timestamp(),
                                      after_step=account.totp_last_step)
            if step is None:
                record_failure(session, account, now=now, rules=rules)
                refusal = SignInRefused
            else:
                account.totp_last_step = step
                refusal = None
        else:
            refusal = None
        if refusal is None and account is not None:
            clear_failures(account)
            identity = StaffIdentity(username=account.username, role=account.role, region_code=account.region_code,
                                     station_id=account.station_id, staff_admin=account.staff_admin,
                                     merchant_id=account.merchant_id,
                                     setup_required=tuple(await setup_steps(session, account)))
    if refusal is not None or identity is None:
        raise (refusal or SignInRefused)()
    return identity


async def upsert_staff_account(session: AsyncSession, *, username: str, password: str, role: str,
                               region_code: str, display_name: str,
                               station_id: uuid.UUID | None = None, staff_admin: bool = False,
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
        account.staff_admin = staff_admin
        account.merchant_id = merchant_id
        account.activation_code_hash = None
        account.activation_expires_at = None
        account.disabled_at = None
        account.must_change_password = False
        clear_failures(account)
    return account
