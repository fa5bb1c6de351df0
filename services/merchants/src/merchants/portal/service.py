"""Portal accounts of an ODR enterprise's staff: the first admin on approval, colleagues, activation.

No password is ever chosen for someone else or stored in clear: a new or reset account gets a one-time activation
code (shown once, to the applicant or to the admin who hands it over, kept only as a scrypt hash, valid for
`portal_activation_ttl_seconds`), and the person exchanges it for a password of their own choosing.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.hashing import hash_secret_async, verify_secret_async
from merchants.credentials.models import PORTAL_ROLES, StaffAccount, StaffRole
from merchants.credentials.service import display_name_context
from merchants.enrollment.models import Enrollment
from merchants.enrollment.state import EnrollmentStatus
from merchants.portal.models import PortalUserEvent
from merchants.portal.schemas import (
    PortalUserCreate,
    PortalUserRead,
)
from merchants.portal.state import PortalUserAction, PortalUserStatus, next_status, status_of
from merchants.registry.models import Merchant
from servicekit.auth import Principal
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher, mask_name
from servicekit.problems import CATALOG, Problem

# Without 0/O, 1/I/L: a code is read off a screen and typed in by a person.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4
PASSWORD_MIN_LENGTH = 10
FIRST_ADMIN_SUFFIX = "-admin"
APPLICANT = "applicant"
INVALID_ACTIVATION = "invalid-activation"
CATALOG.setdefault(INVALID_ACTIVATION, (401, "The username or activation code is not valid, or the code has expired",
                                        "用户名或激活码无效，或激活码已过期"))


@dataclass(frozen=True)
class IssuedActivation:
    """A new activation code; the plain code exists only in this object and is shown once."""

    account: StaffAccount
    code: str
    expires_at: datetime


def new_activation_code() -> str:
    """16 characters (about 79 bits) in groups of four, e.g. ``7KQM-2XHP-WD4R-9TNB``."""
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


def _normalised_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def password_problem(password: str, username: str) -> str | None:
    """Why a chosen password is refused, or None when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"The password must have at least {PASSWORD_MIN_LENGTH} characters"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "The password must contain at least one letter and one digit"
    if username.lower() in password.lower():
        return "The password must not contain the username"
    return None


def read_of(account: StaffAccount) -> PortalUserRead:
    status = status_of(account)
    return PortalUserRead(
        id=account.id, username=account.username, display_name=account.display_name, role=account.role,
        status=status, created_at=account.created_at,
        activation_expires_at=account.activation_expires_at if status == PortalUserStatus.PENDING_ACTIVATION else None)


def _audit(session: AsyncSession, account: StaffAccount, action: str, actor_id: str) -> None:
    assert account.merchant_id is not None
    session.add(PortalUserEvent(account_id=account.id, merchant_id=account.merchant_id, action=action,
                                actor_id=actor_id))


async def _stage_activation(account: StaffAccount, ttl: timedelta) -> IssuedActivation:
    code = new_activation_code()
    expires_at = utcnow() + ttl
    account.password_hash = None
    account.disabled_at = None
    account.activation_code_hash = await hash_secret_async(_normalised_code(code))
    account.activation_expires_at = expires_at
    return IssuedActivation(account=account, code=code, expires_at=expires_at)


def first_admin_username(uscc: str) -> str:
    return uscc.lower() + FIRST_ADMIN_SUFFIX


async def stage_first_admin(session: AsyncSession, cipher: PiiCipher, *, merchant: Merchant,
                            display_name: str) -> StaffAccount:
    """In the approval's transaction: the application's contact becomes the enterprise's first admin, without a
    password and without a code yet (`stage_first_admin_activation` issues it through the applicant's one-time
    credentials link, so the approving regulator never sees it). An enterprise that already has an admin keeps it."""
    existing = (await session.execute(
        select(StaffAccount).where(StaffAccount.merchant_id == merchant.id,
                                   StaffAccount.role == StaffRole.ENTERPRISE_ADMIN)
        .order_by(StaffAccount.created_at).limit(1)
    )).scalar_one_or_none()
    if existing is not None:
        return existing
    # The contact is a person: the name is kept encrypted, the clear column holds only its masked form (as for staff
    # accounts administrators create).
    account_id = new_id()
    account = StaffAccount(id=account_id, username=first_admin_username(merchant.uscc), password_hash=None,
                           role=StaffRole.ENTERPRISE_ADMIN.value, region_code=merchant.region_code,
                           display_name=mask_name(display_name), merchant_id=merchant.id,
                           display_name_enc=cipher.encrypt(display_name,
                                                           context=display_name_context(account_id)))
    session.add(account)
    await session.flush()
    _audit(session, account, "create", APPLICANT)
    return account


async def stage_first_admin_activation(session: AsyncSession, *, merchant_id: uuid.UUID,
                                       ttl: timedelta) -> IssuedActivation | None:
    """In the credentials handover's transaction: an activation code for the first admin, while it has never
    chosen a password (None otherwise)."""
    account = (await session.execute(
        select(StaffAccount).where(StaffAccount.merchant_id == merchant_id,
                                   StaffAccount.role == StaffRole.ENTERPRISE_ADMIN,
                                   StaffAccount.password_hash.is_(None), StaffAccount.disabled_at.is_(None))
        .order_by(StaffAccount.created_at).limit(1).with_for_update()
    )).scalar_one_or_none()
    if account is None:
        return None
    issued = await _stage_activation(account, ttl)
    _audit(session, account, PortalUserAction.RESET.value, APPLICANT)
    return issued


async def activate(session: AsyncSession, *, username: str, code: str, password: str) -> StaffAccount:
    """Use case: exchange a valid, unexpired activation code for the password the person chose.

    One indistinguishable 401 for an unknown user, a wrong or expired code, or an account not waiting for one.
    """
    async with session.begin():
        account = (await session.execute(
            select(StaffAccount).where(StaffAccount.username == username, StaffAccount.merchant_id.is_not(None))
            .with_for_update()
        )).scalar_one_or_none()
        matches = await verify_secret_async(_normalised_code(code), account.activation_code_hash if account else None)
        if (account is None or not matches or account.activation_expires_at is None
                or account.activation_expires_at <= utcnow()
                or status_of(account) != PortalUserStatus.PENDING_ACTIVATION):
            raise Problem(INVALID_ACTIVATION, "The username or activation code is not valid, or the code has expired")
        refused = password_problem(password, username)
        if refused is not None:
            raise Problem("validation-error", refused,
                          errors=[{"loc": ["body", "password"], "msg": refused, "type": "value_error"}])
        next_status(status_of(account), PortalUserAction.ACTIVATE)
        account.password_hash = await hash_secret_async(password)
        account.activation_code_hash = None
        account.activation_expires_at = None
        _audit(session, account, PortalUserAction.ACTIVATE.value, account.username)
    return account


async def list_users(session: AsyncSession, *, merchant_id: uuid.UUID) -> list[PortalUserRead]:
    async with session.begin():
        accounts = (await session.execute(
            select(StaffAccount).where(StaffAccount.merchant_id == merchant_id)
            .order_by(StaffAccount.created_at, StaffAccount.username)
        )).scalars().all()
        return [read_of(account) for account in accounts]


async def add_user(session: AsyncSession, *, principal: Principal, body: PortalUserCreate,
                   ttl: timedelta) -> IssuedActivation:
    """Use case: the admin adds a colleague, who signs in first with the activation code returned here once."""
    merchant_id = merchant_of(principal)
    async with session.begin():
        taken = await session.scalar(select(StaffAccount.id).where(StaffAccount.username == body.username))
        if taken is not None:
            raise Problem("conflict", "This username is taken")
        region_code = await session.scalar(select(Merchant.region_code).where(Merchant.id == merchant_id))
        if region_code is None:
            raise Problem("not-found", "No such enterprise")
        account = StaffAccount(username=body.username, password_hash=None, role=body.role, region_code=region_code,
                               display_name=body.display_name, merchant_id=merchant_id)
        session.add(account)
        await session.flush()
        issued = await _stage_activation(account, ttl)
        _audit(session, account, "create", principal.sub)
    return issued


async def _colleague(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> StaffAccount:
    """A colleague's account, locked; 404 for another enterprise's; 409 for the admin's own."""
    account = (await session.execute(
        select(StaffAccount).where(StaffAccount.id == account_id, StaffAccount.merchant_id == merchant_of(principal))
        .with_for_update()
    )).scalar_one_or_none()
    if account is None:
        raise Problem("not-found", "No such portal account in your enterprise")
    if account.username == principal.sub:
        raise Problem("conflict", "An admin cannot disable or reset their own account")
    return account


async def disable_user(session: AsyncSession, *, principal: Principal, account_id: uuid.UUID) -> PortalUserRead:
    """Use case: the colleague's account stops signing in, and its tokens stop working within seconds."""
    async with session.begin():
        account = await _colleague(session, principal, account_id)
        next_status(status_of(account), PortalUserAction.DISABLE)
        account.disabled_at = utcnow()
        account.activation_code_hash = None
        account.activation_expires_at = None
        _audit(session, account, PortalUserAction.DISABLE.value, principal.sub)
        return read_of(account)


async def reset_user(session: AsyncSession, *, principal: Principal, account_id: uuid.UUID,
                     ttl: timedelta) -> IssuedActivation:
    """Use case: forget the colleague's password (re-enabling a disabled account) and issue a new activation code."""
    async with session.begin():
        account = await _colleague(session, principal, account_id)
        next_status(status_of(account), PortalUserAction.RESET)
        issued = await _stage_activation(account, ttl)
        _audit(session, account, PortalUserAction.RESET.value, principal.sub)
    return issued


async def portal_user_is_active(session: AsyncSession, *, username: str) -> bool:
    """True while a portal user's tokens may be honoured: the account is enabled and has a password, and its
    enterprise is approved (suspension or revocation stops every colleague at once)."""
    row = (await session.execute(
        select(StaffAccount.disabled_at, StaffAccount.password_hash, Enrollment.status)
        .join(Enrollment, Enrollment.merchant_id == StaffAccount.merchant_id)
        .where(StaffAccount.username == username, StaffAccount.role.in_([role.value for role in PORTAL_ROLES]))
    )).one_or_none()
    return (row is not None and row.disabled_at is None and row.password_hash is not None
            and row.status == EnrollmentStatus.APPROVED)


def merchant_of(principal: Principal) -> uuid.UUID:
    if principal.merchant_id is None:
        raise Problem("forbidden", "The token names no enterprise")
    return principal.merchant_id
