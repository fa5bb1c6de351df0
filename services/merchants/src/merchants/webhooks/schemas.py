"""Bodies of webhook configuration and the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from merchants.webhooks.events import WEBHOOK_EVENT_TYPES


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, examples=["https://erp.example.com/odr/webhook"])
    secret: str | None = Field(default=None, max_length=200,
                               description="whsec_<base64 of 24-64 bytes>; generated when omitted")
    events: list[str] = Field(default=["*"], min_length=1, max_length=len(WEBHOOK_EVENT_TYPES) + 1,
                              description="Event types to receive, or [\"*\"] for all",
                              examples=[["*"], ["complaints.complaint.routed.v1", "mediation.case.settled.v1"]])


class WebhookRead(BaseModel):
    url: str
    events: list[str]
    enabled: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None


class WebhookSaved(WebhookRead):
    """The saved configuration with its signing secret (the only time it is shown)."""

    secret: str


class DeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None


class AttemptRead(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryDetail(DeliveryRead):
    """A delivery with the body it sends and every attempt so far."""

    payload: dict[str, Any]
    attempt_log: list[AttemptRead]
