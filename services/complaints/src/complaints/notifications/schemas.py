"""Body of the internal endpoint the gateway queues sign-in codes with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SignInCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    code: str = Field(pattern=r"^\d{6}$")
    client_address: str = Field(min_length=1, max_length=64, description="The address the gateway saw the request from")


class SignInCodeQueued(BaseModel):
    queued: bool = True
