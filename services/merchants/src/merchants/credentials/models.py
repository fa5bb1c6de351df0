"""Credentials the gateway exchanges for tokens: enterprise API clients and staff accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class StaffRole(StrEnum):
    REGULATOR = "regulator"
    MEDIATOR = "mediator"
    STATION_STAFF = "station_staff"
    # A 12315 hotline operator: files complaints for callers (channel `hotline`).
    HOTLINE = "hotline"
    # People of an ODR enterprise using the portal (accounts carrying `merchant_id`): the admin manages colleagues.
    ENTERPRISE_ADMIN = "enterprise_admin"
    ENTERPRISE_AGENT = "enterprise_agent"


PORTAL_ROLES = frozenset({StaffRole.ENTERPRISE_ADMIN, StaffRole.ENTERPRISE_AGENT})
ROLE_VALUES = ", ".join(f"'{role.value}'" for role in StaffRole)
PORTAL_ROLE_VALUES = ", ".join(f"'{role.value}'" for role in sorted(PORTAL_ROLES))


class ApiClient(Base):
    """An enterprise's client_credentials pair; the secret is kept only as a slow salted hash."""

    __tablename__ = "api_client"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    revoked_at: Mapped[datetime | None]
    # Set when a rotation replaced this client: it keeps working until then, beside its successor.
    expires_at: Mapped[datetime | None]


class StaffAccount(Base):
    """A regulator, mediator, hotline operator, service-station or enterprise portal account for the password grant.

    Portal accounts belong to one enterprise (`merchant_id`). They start without a password: whoever holds the
    one-time activation code (kept only as a scrypt hash, until `activation_expires_at`) chooses it.
    """

    __tablename__ = "staff_account"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role"),
        CheckConstraint(f"(merchant_id IS NOT NULL) = (role IN ({PORTAL_ROLE_VALUES}))", name="portal_merchant"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6))
    station_id: Mapped[uuid.UUID | None]
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    disabled_at: Mapped[datetime | None]
    # Administrators create accounts for people: their name is kept encrypted here (context
    # "staff_account:<id>:display_name") and `display_name` holds only its masked form.
    display_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    staff_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Set by an administrator's create or reset (a temporary password): sign-in then only yields a setup token.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    password_changed_at: Mapped[datetime | None]
    # RFC 6238 secret, encrypted with the service cipher ("staff_account:<id>:totp_secret"); pending until
    # `totp_enabled_at` is set by a confirmed code.
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None]
    # The time step of the last accepted code: a code is accepted only for a later step, so none is used twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Failed sign-ins of the current window; counted here so the limit holds across every process.
    failed_attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    failure_window_started_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchant.id"), index=True)
    activation_code_hash: Mapped[str | None] = mapped_column(String(255))
    activation_expires_at: Mapped[datetime | None]


class StaffRegionPolicy(Base):
    """A region's sign-in rules set by its staff administrator; they bind the region's accounts and those below."""

    __tablename__ = "staff_region_policy"

    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    totp_required: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(64))


class StaffAuditEntry(Base):
    """Who did what to a staff account or a region's policy, and when; rows are only ever inserted."""

    __tablename__ = "staff_audit"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now(), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    actor_region: Mapped[str | None] = mapped_column(String(6))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_account.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
