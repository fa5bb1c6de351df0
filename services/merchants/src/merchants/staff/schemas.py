"""Bodies of staff administration and of a staff member's own sign-in settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Username = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", examples=["zhang.wei"])]


class ManagedRole(StrEnum):
    """Roles an administrator hands out here; station staff are created on their station."""

    REGULATOR = "regulator"
    MEDIATOR = "mediator"
    HOTLINE = "hotline"


class StaffAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: Name = Field(description="The person's name; kept encrypted")
    role: ManagedRole
    region_code: str = Field(pattern=r"^\d{6}$", description="A region the administrator governs",
                             examples=["632801"])
    staff_admin: bool = Field(default=False, description="Also a staff administrator (regulators only)")


class StaffAccountRead(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    region_code: str
    station_id: uuid.UUID | None
    staff_admin: bool
    disabled: bool
    locked: bool = Field(description="Locked for a while after repeated failed sign-ins")
    totp_enabled: bool
    must_change_password: bool
    created_at: datetime


class StaffAccountList(BaseModel):
    items: list[StaffAccountRead]
    next_cursor: str | None


class IssuedPassword(BaseModel):
    """The account and its temporary password, shown this once; it must be changed at the first sign-in."""

    account: StaffAccountRead
    temporary_password: str


class DisableRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class RegionPolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    totp_required: bool = Field(description="Every account of this region and below must sign in with TOTP")


class RegionPolicyRead(BaseModel):
    region_code: str
    totp_required: bool = Field(description="This region's own setting")
    effective_totp_required: bool = Field(description="Required here by this region or one above it")
    required_by: str | None = Field(description="The region whose setting requires it")


class MyAccount(BaseModel):
    """The signed-in staff member (a setup token too), and what is left to do before a full sign-in."""

    username: str
    role: str
    region_code: str
    staff_admin: bool
    totp_enabled: bool
    must_change_password: bool
    setup_required: list[str]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256, description=(
        "At least 12 characters of 3 kinds (lower case, upper case, digits, other), not containing the username, "
        "not a common password, not the current one"))


class TotpEnrolment(BaseModel):
    """A pending TOTP secret: add it to an authenticator app (QR code of `otpauth_uri`), then confirm a code."""

    secret: str = Field(description="Base32, as authenticator apps take it typed in")
    otpauth_uri: str
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"


class StaffAuditRead(BaseModel):
    """One administration or sign-in security event: who (username and region), what, on which account, when."""

    id: uuid.UUID
    at: datetime
    action: str = Field(description=(
        "created, disabled, enabled, reset, password_changed, totp_enrolled, locked (actor system), policy_changed"))
    actor: str
    actor_region: str | None
    account_id: uuid.UUID | None
    username: str | None = Field(description="The account acted on; none for a region's policy")
    region_code: str
    detail: dict[str, Any] | None


class StaffAuditList(BaseModel):
    items: list[StaffAuditRead]
    next_cursor: str | None


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{6}$")
