"""Bodies of the portal account endpoints: colleagues, activation and the signed-in user's own view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from merchants.portal.state import PortalUserStatus

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN),
                     Field(description="Lower-case letters, digits, '.', '_' and '-', 3-64 characters",
                           examples=["kunlun-service01"])]
PortalRole = Literal["enterprise_admin", "enterprise_agent"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortalUserCreate(Strict):
    username: Username
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: PortalRole = "enterprise_agent"


class PortalUserRead(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    status: PortalUserStatus
    created_at: datetime
    activation_expires_at: datetime | None = Field(
        description="Until when the pending activation code works (null once activated or disabled)")


class PortalUserList(BaseModel):
    items: list[PortalUserRead]


class ActivationIssued(BaseModel):
    """A one-time activation code, shown in this answer only; the colleague chooses a password with it."""

    user: PortalUserRead
    activation_code: str
    activation_expires_at: datetime


class Activation(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    activation_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The password the person chooses: 10-128 characters with at least one letter and one digit, "
                    "not containing the username")


class Activated(BaseModel):
    username: str
    status: PortalUserStatus


class EnterpriseRead(BaseModel):
    merchant_id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    enrollment_status: str
    approved_at: datetime | None
    suspended_at: datetime | None


class ApplicationSummary(BaseModel):
    id: uuid.UUID
    status: str
    submitted_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


class PortalMe(BaseModel):
    """The signed-in portal user, the enterprise and its ODR application (the latest, if it applied online)."""

    username: str
    display_name: str
    role: str
    enterprise: EnterpriseRead
    application: ApplicationSummary | None
