"""Staff administration and self-service use cases; each commits its change and its `staff_audit` row together.

An administrator (token role `staff_admin`, re-checked against its account on every action) manages the staff
accounts of the regions it governs; accounts elsewhere, and rows that are not staff (enterprise portal users share
the table), answer 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials import passwords, totp
from merchants.credentials.hashing import hash_secret_async, verify_secret_async
from merchants.credentials.models import StaffAccount, StaffAuditEntry, StaffRegionPolicy, StaffRole
from merchants.credentials.service import (
    LockoutRules,
    clear_failures,
    display_name_context,
    is_locked,
    record_failure,
    setup_steps,
    totp_context,
    totp_required_in_region,
)
from merchants.registry.service import valid_region
from merchants.staff.schemas import (
    IssuedPassword,
    ManagedRole,
    MyAccount,
    RegionPolicyRead,
    StaffAccountCreate,
    StaffAccountList,
    StaffAccountRead,
    StaffAuditList,
    StaffAuditRead,
    TotpEnrolment,
)
from servicekit import regions
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher, mask_name
from servicekit.problems import Problem

STAFF_ROLES = tuple(role.value for role in StaffRole)
NOT_FOUND = "No such staff account in the regions you govern"


def _audit(session: AsyncSession, action: str, principal: Principal, *, region_code: str,
           account: StaffAccount | None = None, at: datetime | None = None, **detail: Any) -> None:
    session.add(StaffAuditEntry(action=action, actor=principal.sub, actor_region=principal.region,
                                account_id=account.id if account else None, region_code=region_code,
                                at=at or utcnow(), detail=detail or None))


def read_account(account: StaffAccount, cipher: PiiCipher, now: datetime) -> StaffAccountRead:
    name = (cipher.decrypt(account.display_name_enc, context=display_name_context(account.id))
            if account.display_name_enc is not None else account.display_name)
    return StaffAccountRead(
        id=account.id, username=account.username, display_name=name, role=account.role,
        region_code=account.region_code, station_id=account.station_id, staff_admin=account.staff_admin,
        disabled=account.disabled_at is not None, locked=is_locked(account, now),
        totp_enabled=account.totp_enabled_at is not None, must_change_password=account.must_change_password,
        created_at=account.created_at)


async def _administrator(session: AsyncSession, principal: Principal) -> StaffAccount:
    """The acting administrator's own account: a token outliving a demotion or a disabling acts no more."""
    actor = await session.scalar(select(StaffAccount).where(StaffAccount.username == principal.sub))
    if actor is None or not actor.staff_admin or actor.disabled_at is not None or not principal.region:
        raise Problem("forbidden", "Only an enabled staff administrator may manage staff accounts")
    return actor


async def _governed(session: AsyncSession, account_id: uuid.UUID, principal: Principal) -> StaffAccount:
    account = await session.scalar(select(StaffAccount).where(StaffAccount.id == account_id).with_for_update())
    if account is None or account.role not in STAFF_ROLES or not principal.governs(account.region_code):
        raise Problem("not-found", NOT_FOUND)
    return account


async def create_account(session: AsyncSession, cipher: PiiCipher, *, body: StaffAccountCreate,
                         principal: Principal) -> IssuedPassword:
    """Use case: a staff account in a governed region with a temporary password (changed at first sign-in)."""
    valid_region(body.region_code)
    if body.staff_admin and body.role != ManagedRole.REGULATOR:
        raise Problem("validation-error", errors=[{"field": "body.staff_admin", "code": "regulators_only",
                                                   "message": "Only regulators can be staff administrators"}])
    temporary = passwords.temporary_password()
    password_hash = await hash_secret_async(temporary)
    async with session.begin():
        await _administrator(session, principal)
        if not principal.governs(body.region_code):
            raise Problem("forbidden", "You may create accounts only in the regions you govern")
        if await session.scalar(select(StaffAccount.id).where(StaffAccount.username == body.username)):
            raise Problem("conflict", "This username is taken")
        account = StaffAccount(username=body.username,
                               password_hash=password_hash, role=body.role.value, region_code=body.region_code,
                               display_name=mask_name(body.display_name), staff_admin=body.staff_admin,
                               must_change_password=True)
        session.add(account)
        await session.flush()
        account.display_name_enc = cipher.encrypt(body.display_name, context=display_name_context(account.id))
        _audit(session, "created", principal, account=account, region_code=account.region_code,
               role=account.role, staff_admin=account.staff_admin)
        read = read_account(account, cipher, utcnow())
    return IssuedPassword(account=read, temporary_password=temporary)


async def list_accounts(session: AsyncSession, cipher: PiiCipher, *, principal: Principal, region: str | None,
                        cursor: str | None, limit: int) -> StaffAccountList:
    """Staff accounts of a governed region and below (the administrator's own by default), by id."""
    async with session.begin():
        await _administrator(session, principal)
        scope = region or principal.region or ""
        if not principal.governs(scope):
            raise Problem("not-found", "No such region among those you govern")
        query = (select(StaffAccount)
                 .where(StaffAccount.role.in_(STAFF_ROLES),
                        StaffAccount.region_code.startswith(regions.prefix(scope), autoescape=True))
                 .order_by(StaffAccount.id).limit(limit + 1))
        if cursor is not None:
            query = query.where(StaffAccount.id > decode_cursor(cursor))
        page, next_cursor = page_of((await session.scalars(query)).all(), limit, lambda account: account.id)
        now = utcnow()
        return StaffAccountList(items=[read_account(account, cipher, now) for account in page],
                                next_cursor=next_cursor)


async def get_account(session: AsyncSession, cipher: PiiCipher, *, account_id: uuid.UUID,
                      principal: Principal) -> StaffAccountRead:
    async with session.begin():
        await _administrator(session, principal)
        return read_account(await _governed(session, account_id, principal), cipher, utcnow())


async def set_disabled(session: AsyncSession, cipher: PiiCipher, *, account_id: uuid.UUID, principal: Principal,
                       disabled: bool, reason: str | None = None) -> StaffAccountRead:
    """Use case: disable (sign-in refused from now on) or enable again (also lifting a lock); 409 if already so."""
    async with session.begin():
        actor = await _administrator(session, principal)
        account = await _governed(session, account_id, principal)
        if account.id == actor.id:
            raise Problem("conflict", "Administrators cannot disable or enable their own account")
        if (account.disabled_at is not None) == disabled:
            raise Problem("conflict", "The account is already " + ("disabled" if disabled else "enabled"))
        now = utcnow()
        account.disabled_at = now if disabled else None
        if not disabled:
            clear_failures(account)
        _audit(session, "disabled" if disabled else "enabled", principal, account=account,
               region_code=account.region_code, at=now, **({"reason": reason} if reason else {}))
        return read_account(account, cipher, now)


async def reset_account(session: AsyncSession, cipher: PiiCipher, *, account_id: uuid.UUID,
                        principal: Principal) -> IssuedPassword:
    """Use case: a new temporary password to change at the next sign-in; the TOTP binding and any lock are cleared."""
    temporary = passwords.temporary_password()
    password_hash = await hash_secret_async(temporary)
    async with session.begin():
        actor = await _administrator(session, principal)
        account = await _governed(session, account_id, principal)
        if account.id == actor.id:
            raise Problem("conflict", "Administrators cannot reset their own account")
        account.password_hash = password_hash
        account.must_change_password = True
        account.totp_secret_enc = None
        account.totp_enabled_at = None
        account.totp_last_step = None
        clear_failures(account)
        now = utcnow()
        _audit(session, "reset", principal, account=account, region_code=account.region_code, at=now)
        return IssuedPassword(account=read_account(account, cipher, now), temporary_password=temporary)


async def region_policy(session: AsyncSession, *, region: str, principal: Principal) -> RegionPolicyRead:
    async with session.begin():
        await _administrator(session, principal)
        return await _policy_read(session, region, principal)


async def _policy_read(session: AsyncSession, region: str, principal: Principal) -> RegionPolicyRead:
    if not regions.is_known(region) or not principal.governs(region):
        raise Problem("not-found", "No such region among those you govern")
    own = await session.get(StaffRegionPolicy, region)
    required_by = await totp_required_in_region(session, region)
    return RegionPolicyRead(region_code=region, totp_required=bool(own and own.totp_required),
                            effective_totp_required=required_by is not None, required_by=required_by)


async def set_region_policy(session: AsyncSession, *, region: str, totp_required: bool,
                            principal: Principal) -> RegionPolicyRead:
    """Use case: require TOTP (or stop requiring it) for every account of the region and below."""
    async with session.begin():
        await _administrator(session, principal)
        if not regions.is_known(region) or not principal.governs(region):
            raise Problem("not-found", "No such region among those you govern")
        policy = await session.get(StaffRegionPolicy, region, with_for_update=True)
        if policy is None:
            policy = StaffRegionPolicy(region_code=region, totp_required=totp_required, updated_by=principal.sub)
            session.add(policy)
        policy.totp_required = totp_required
        policy.updated_by = principal.sub
        policy.updated_at = utcnow()
        _audit(session, "policy_changed", principal, region_code=region, totp_required=totp_required)
        await session.flush()
        return await _policy_read(session, region, principal)


async def list_audit(session: AsyncSession, *, principal: Principal, region: str | None, cursor: str | None,
                     limit: int) -> StaffAuditList:
    """The audit trail of a governed region and below (the administrator's own by default), newest first."""
    async with session.begin():
        await _administrator(session, principal)
        scope = region or principal.region or ""
        if not principal.governs(scope):
            raise Problem("not-found", "No such region among those you govern")
        query = (select(StaffAuditEntry, StaffAccount.username)
                 .outerjoin(StaffAccount, StaffAccount.id == StaffAuditEntry.account_id)
                 .where(StaffAuditEntry.region_code.startswith(regions.prefix(scope), autoescape=True))
                 .order_by(StaffAuditEntry.id.desc()).limit(limit + 1))
        if cursor is not None:
            query = query.where(StaffAuditEntry.id < decode_cursor(cursor))
        rows = (await session.execute(query)).all()
        page, next_cursor = page_of(rows, limit, lambda row: row[0].id)
        return StaffAuditList(items=[
            StaffAuditRead(id=entry.id, at=entry.at, action=entry.action, actor=entry.actor,
                           actor_region=entry.actor_region, account_id=entry.account_id, username=username,
                           region_code=entry.region_code, detail=entry.detail)
            for entry, username in page], next_cursor=next_cursor)


# --- the staff member's own account (a full token or a setup token) ---


async def _own(session: AsyncSession, principal: Principal) -> StaffAccount:
    account = await session.scalar(
        select(StaffAccount).where(StaffAccount.username == principal.sub).with_for_update())
    if account is None or account.disabled_at is not None:
        raise Problem("forbidden", "This account is disabled")
    return account


async def _my_account(session: AsyncSession, account: StaffAccount) -> MyAccount:
    return MyAccount(username=account.username, role=account.role, region_code=account.region_code,
                     staff_admin=account.staff_admin, totp_enabled=account.totp_enabled_at is not None,
                     must_change_password=account.must_change_password,
                     setup_required=[step.value for step in await setup_steps(session, account)])


async def my_account(session: AsyncSession, *, principal: Principal) -> MyAccount:
    async with session.begin():
        return await _my_account(session, await _own(session, principal))


async def change_password(session: AsyncSession, *, principal: Principal, current_password: str,
                          new_password: str, rules: LockoutRules) -> None:
    """Use case: the staff member sets a new password, proving the current one (a wrong one counts as a failed
    sign-in; a locked account cannot change it); 403 for a wrong current password, 422 for a broken rule."""
    passwords.check_password(new_password, username=principal.sub)
    new_hash = await hash_secret_async(new_password)
    wrong = False
    async with session.begin():
        account = await _own(session, principal)
        now = utcnow()
        matches = await verify_secret_async(current_password, account.password_hash)
        if is_locked(account, now) or not matches:
            if not is_locked(account, now):
                record_failure(session, account, now=now, rules=rules)
            wrong = True
        elif await verify_secret_async(new_password, account.password_hash):
            raise Problem("validation-error", errors=[{"field": "body.new_password", "code": "password_unchanged",
                                                       "message": "Choose a password other than the current one"}])
        else:
            account.password_hash = new_hash
            account.must_change_password = False
            account.password_changed_at = now
            _audit(session, "password_changed", principal, account=account, region_code=account.region_code, at=now)
    if wrong:
        raise Problem("forbidden", "The current password is not right, or the account is locked for a while")


async def start_totp(session: AsyncSession, cipher: PiiCipher, *, principal: Principal) -> TotpEnrolment:
    """Use case: a new pending secret (replacing a pending one); 409 once TOTP is enabled (an administrator's
    reset clears it)."""
    secret = totp.new_secret()
    async with session.begin():
        account = await _own(session, principal)
        if account.totp_enabled_at is not None:
            raise Problem("conflict", "TOTP is already enabled on this account")
        account.totp_secret_enc = cipher.encrypt(secret.hex(), context=totp_context(account.id))
        account.totp_last_step = None
    return TotpEnrolment(secret=totp.base32(secret), otpauth_uri=totp.provisioning_uri(secret, account.username))


async def confirm_totp(session: AsyncSession, cipher: PiiCipher, *, principal: Principal, code: str) -> MyAccount:
    """Use case: a right code for the pending secret enables TOTP; the code's step is spent (409 with nothing
    pending or already enabled, 422 for a wrong code)."""
    async with session.begin():
        account = await _own(session, principal)
        if account.totp_enabled_at is not None or account.totp_secret_enc is None:
            raise Problem("conflict", "No TOTP enrolment is pending; start one first")
        secret = bytes.fromhex(cipher.decrypt(account.totp_secret_enc, context=totp_context(account.id)))
        now = utcnow()
        step = totp.accepted_step(secret, code, unix_time=now.timestamp(), after_step=account.totp_last_step)
        if step is None:
            raise Problem("validation-error", errors=[{"field": "body.code", "code": "totp_wrong",
                                                       "message": "The code is not the authenticator's current one"}])
        account.totp_enabled_at = now
        account.totp_last_step = step
        _audit(session, "totp_enrolled", principal, account=account, region_code=account.region_code, at=now)
        return await _my_account(session, account)
