"""Credentials the gateway exchanges for tokens: enterprise API clients and staff accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, func
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
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchant.id"), index=True)
    activation_code_hash: Mapped[str | None] = mapped_column(String(255))
    activation_expires_at: Mapped[datetime | None]
