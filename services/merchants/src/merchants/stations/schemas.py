"""Bodies of the station registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from merchants.applications.schemas import Phone

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["格尔木昆仑市场消费维权服务站"])
    host_name: Name = Field(description="The market or business hosting the station")
    host_merchant_id: uuid.UUID | None = Field(default=None, description="The host, when it is in the registry")
    region_code: str = Field(pattern=r"^\d{6}$", examples=["632801"])
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    phone: Phone


class StationRead(BaseModel):
    id: uuid.UUID
    name: str
    host_name: str
    host_merchant_id: uuid.UUID | None
    region_code: str
    address: str
    phone: str
    created_at: datetime
    staff: list[str] = Field(default_factory=list, description="Usernames of its enabled staff accounts")


class StationList(BaseModel):
    items: list[StationRead]
    next_cursor: str | None


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", examples=["kunlun-station-1"])
    password: str = Field(min_length=12, max_length=256)
    display_name: Name


class StaffRead(BaseModel):
    username: str
    role: str
    station_id: uuid.UUID
    region_code: str
    display_name: str
