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


ROLE_VALUES = ", ".join(f"'{role.value}'" for role in StaffRole)


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
    """A regulator, mediator, hotline operator or service-station account for the password grant."""

    __tablename__ = "staff_account"
    __table_args__ = (CheckConstraint(f"role IN ({ROLE_VALUES})", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6))
    station_id: Mapped[uuid.UUID | None]
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    disabled_at: Mapped[datetime | None]
