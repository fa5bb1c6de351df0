"""Bodies of the internal credential check the gateway's token endpoint calls."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ClientCredentialsGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant_type: Literal["client_credentials"]
    client_id: str = Field(min_length=1, max_length=64)
    client_secret: str = Field(min_length=1, max_length=256)


class PasswordGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant_type: Literal["password"]
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: str | None = Field(default=None, max_length=16, description="The authenticator's current code")


CredentialsVerify = Annotated[ClientCredentialsGrant | PasswordGrant, Field(discriminator="grant_type")]


class EnterpriseClaims(BaseModel):
    """Claims for an ODR enterprise token (audience merchant)."""

    sub: str
    aud: Literal["merchant"] = "merchant"
    roles: list[str]
    merchant_id: uuid.UUID
    client_id: str
    region: str


class PortalUserClaims(BaseModel):
    """Claims for a person of an ODR enterprise signed in to the portal (audience merchant, no client)."""

    sub: str
    aud: Literal["merchant"] = "merchant"
    roles: list[str]
    merchant_id: uuid.UUID
    region: str


class StaffClaims(BaseModel):
    """Claims for a staff token (audience regulator)."""

    sub: str
    aud: Literal["regulator"] = "regulator"
    roles: list[str]
    region: str
    station_id: uuid.UUID | None
    setup_required: list[str] = Field(
        default_factory=list,
        description="Non-empty: the gateway issues only a setup token (password_change, totp_enrolment)")


class RotatedCredentials(BaseModel):
    """The new client: its secret is shown this once; the previous ones work until `previous_valid_until`."""

    client_id: str
    client_secret: str
    previous_valid_until: datetime | None


class PortalUserStatus(BaseModel):
    """Whether tokens issued to a portal user may still be honoured; the gateway caches this for a few seconds."""

    username: str
    active: bool


class ClientStatus(BaseModel):
    """Whether tokens issued to a client may still be honoured; the gateway caches this for a few seconds."""

    client_id: str
    active: bool
