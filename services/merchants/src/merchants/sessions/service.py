"""Use cases of sessions: open a family at sign-in, rotate its refresh token, revoke it; prune ended families.

A refresh token is 32 random bytes, so its SHA-256 is enough to find it and useless to anyone reading the table (no
salt or slow hash is needed for a secret nobody chose). Exchanging a token marks it rotated and issues the next one
in the same family; presenting a rotated token again means two parties hold copies, and since the server cannot tell
which one is the thief, the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials.models import StaffAccount
from merchants.portal.service import portal_user_is_active
from merchants.sessions.models import RefreshToken, SessionFamily
from merchants.sessions.schemas import SessionClaims, SessionIssued
from merchants.sessions.state import (
    FamilyState,
    RevocationReason,
    SessionKind,
    TokenState,
    family_can_become,
    token_can_become,
)
from merchants.settings import MerchantsSettings
from servicekit.auth import Role
from servicekit.db import utcnow
from servicekit.observability import get_logger
from servicekit.problems import Problem

TOKEN_PREFIX = "ort_"
PRUNE_BATCH = 1000

log = get_logger("merchants.sessions")


@dataclass(frozen=True)
class SessionPolicy:
    """How long one refresh token lives unused (`idle`) and how long its family lives at most (`lifetime`)."""

    idle: timedelta
    lifetime: timedelta


def policies(settings: MerchantsSettings) -> dict[SessionKind, SessionPolicy]:
    staff = SessionPolicy(idle=timedelta(seconds=settings.session_staff_idle_seconds),
                          lifetime=timedelta(seconds=settings.session_staff_lifetime_seconds))
    return {
        SessionKind.CONSUMER: SessionPolicy(idle=timedelta(seconds=settings.session_consumer_idle_seconds),
                                            lifetime=timedelta(seconds=settings.session_consumer_lifetime_seconds)),
        SessionKind.STAFF: staff,
        # Portal people sign in through the staff sign-in, on an office computer like staff: the same workday.
        SessionKind.MERCHANT_PORTAL: staff,
    }


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _family_state(family: SessionFamily) -> FamilyState:
    return FamilyState.REVOKED if family.revoked_at is not None else FamilyState.ACTIVE


def _token_state(token: RefreshToken) -> TokenState:
    return TokenState.ROTATED if token.rotated_at is not None else TokenState.CURRENT


async def _claims(session: AsyncSession, kind: SessionKind, subject: str) -> SessionClaims | None:
    """The claims of the next access token, or None when the subject may no longer sign in."""
    if kind == SessionKind.CONSUMER:
        return SessionClaims(sub=subject, aud="consumer", roles=["consumer"])
    account = (await session.execute(
        select(StaffAccount).where(StaffAccount.username == subject)
    )).scalar_one_or_none()
    if account is None or account.disabled_at is not None:
        return None
    if (account.merchant_id is not None) != (kind == SessionKind.MERCHANT_PORTAL):
        # A staff family never turns into an enterprise's, nor the other way round.
        return None
    if kind == SessionKind.MERCHANT_PORTAL:
        # The enterprise's claims, as the password grant gives them; a suspended or revoked enterprise (or a reset
        # account) stops refreshing at once.
        if not await portal_user_is_active(session, username=account.username):
            return None
        return SessionClaims(sub=account.username, aud="merchant", roles=[Role.ENTERPRISE.value, account.role],
                             region=account.region_code, merchant_id=account.merchant_id)
    return SessionClaims(sub=account.username, aud="regulator", roles=[account.role], region=account.region_code,
                         station_id=account.station_id)


def _revoke(family: SessionFamily, reason: RevocationReason, now: datetime) -> None:
    if family_can_become(_family_state(family), FamilyState.REVOKED):
        family.revoked_at = now
        family.revoked_reason = reason


async def _issue(session: AsyncSession, family: SessionFamily, policy: SessionPolicy, claims: SessionClaims,
                 now: datetime) -> SessionIssued:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = min(now + policy.idle, family.expires_at)
    session.add(RefreshToken(token_hash=token_digest(token), family_id=family.id, issued_at=now,
                             expires_at=expires_at))
    await session.flush()
    return SessionIssued(family_id=family.id, refresh_token=token,
                         refresh_expires_in=int((expires_at - now).total_seconds()), claims=claims)


async def start(session: AsyncSession, *, kind: SessionKind, subject: str, policy: SessionPolicy) -> SessionIssued:
    """Use case: a verified sign-in opens a family with its first refresh token (a disabled account: 401)."""
    async with session.begin():
        claims = await _claims(session, kind, subject)
        if claims is None:
            raise Problem("unauthenticated", "This account may not sign in")
        now = utcnow()
        family = SessionFamily(kind=kind, subject=subject, created_at=now,
                               expires_at=now + policy.lifetime)
        session.add(family)
        await session.flush()
        return await _issue(session, family, policy, claims, now)


async def rotate(session: AsyncSession, *, refresh_token: str,
                 policies: dict[SessionKind, SessionPolicy]) -> SessionIssued | None:
    """Use case: exchange a current refresh token for the next one; None when it cannot be (unknown, expired, revoked,
    reused, account disabled). A reused token's family is revoked, and that revocation is committed."""
    async with session.begin():
        found = (await session.execute(
            select(RefreshToken, SessionFamily)
            .join(SessionFamily, SessionFamily.id == RefreshToken.family_id)
            .where(RefreshToken.token_hash == token_digest(refresh_token))
            # Both rows: concurrent exchanges of one family's tokens take turns.
            .with_for_update()
        )).one_or_none()
        if found is None:
            return None
        token, family = found
        now = utcnow()
        if _family_state(family) == FamilyState.REVOKED:
            return None
        if not token_can_become(_token_state(token), TokenState.ROTATED):
            _revoke(family, RevocationReason.REUSE_DETECTED, now)
            log.warning("a rotated refresh token was presented again: its family is revoked", family_id=str(family.id))
            return None
        if token.expires_at <= now or family.expires_at <= now:
            return None
        kind = SessionKind(family.kind)
        claims = await _claims(session, kind, family.subject)
        if claims is None:
            _revoke(family, RevocationReason.ACCOUNT_DISABLED, now)
            return None
        token.rotated_at = now
        return await _issue(session, family, policies[kind], claims, now)


async def revoke(session: AsyncSession, *, refresh_token: str) -> None:
    """Use case: end the family of this refresh token (current or already rotated); an unknown token changes
    nothing (RFC 7009: the caller cannot tell)."""
    async with session.begin():
        family = (await session.execute(
            select(SessionFamily)
            .join(RefreshToken, RefreshToken.family_id == SessionFamily.id)
            .where(RefreshToken.token_hash == token_digest(refresh_token))
            .with_for_update(of=SessionFamily)
        )).scalar_one_or_none()
        if family is not None:
            _revoke(family, RevocationReason.SIGNED_OUT, utcnow())


async def prune_ended(session: AsyncSession, now: datetime) -> int:
    """Delete up to a batch of families past their absolute lifetime (their tokens go with them); a pruning step
    of the retention job, in its transaction."""
    doomed = (select(SessionFamily.id).where(SessionFamily.expires_at < now).limit(PRUNE_BATCH)
              .with_for_update(skip_locked=True).scalar_subquery())
    result = await session.execute(delete(SessionFamily).where(SessionFamily.id.in_(doomed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
