"""Bodies of the internal session endpoints the gateway's token endpoint calls."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from merchants.sessions.state import SessionKind

# "ort_" + 43 characters of base64url (32 random bytes); a little slack for a future format.
REFRESH_TOKEN_MAX = 128


class SessionStart(BaseModel):
    """A sign-in the gateway has just verified (OTP or password): open a family for it."""

    model_config = ConfigDict(extra="forbid")

    kind: SessionKind
    subject: str = Field(min_length=1, max_length=64,
                         description="Consumer pseudonym (c_…), or the username of a staff member or portal user")


class RefreshTokenPresented(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=REFRESH_TOKEN_MAX)


class SessionClaims(BaseModel):
    """What the next access token says, read afresh at each refresh (a staff member's role or region may change)."""

    sub: str
    aud: Literal["consumer", "regulator", "merchant"]
    roles: list[str]
    region: str | None = None
    station_id: uuid.UUID | None = None
    merchant_id: uuid.UUID | None = Field(default=None, description="A portal user's enterprise")


class SessionIssued(BaseModel):
    """A refresh token (shown this once; only its hash is kept) and how long it may be used."""

    family_id: uuid.UUID
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until this token expires (never past the family's end)")
    claims: SessionClaims
