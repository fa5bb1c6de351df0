"""What the platform returns, typed; unknown fields are ignored so newer servers never break older clients."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Deadline(Model):
    kind: str
    due_date: date
    state: str


class Complainant(Model):
    name: str
    phone_masked: str


class CaseRequest(Model):
    type: str
    amount_fen: int | None


class Case(Model):
    id: uuid.UUID
    complaint_id: uuid.UUID
    case_no: str
    status: str
    merchant_id: uuid.UUID | None
    region_code: str
    deadlines: list[Deadline]
    complainant: Complainant
    request: CaseRequest
    facts: str
    opened_at: datetime
    closed_at: datetime | None


class Offer(Model):
    id: uuid.UUID
    status: str
    made_by: str
    type: str
    amount_fen: int | None
    fulfil_by: date | None
    note: str | None
    made_at: datetime
    answered_at: datetime | None


class Agreement(Model):
    id: uuid.UUID
    stage: str
    amount_fen: int
    fulfil_by: date | None
    content_hash: str
    fulfilment_status: str
    created_at: datetime


class Message(Model):
    id: uuid.UUID
    author_role: str
    text: str
    posted_at: datetime


class FulfilmentProof(Model):
    id: uuid.UUID
    agreement_id: uuid.UUID
    kind: str
    reference: str
    note: str | None
    recorded_at: datetime
    fulfilment_status: str


class CaseDetail(Case):
    stage: str
    failure_reason: str | None
    offers: list[Offer]
    agreement: Agreement | None
    fulfilment_proofs: list[FulfilmentProof]
    messages: list[Message]


class CasePage(Model):
    items: list[Case]
    next_cursor: str | None


class OfferAnswer(Model):
    case_status: str
    offer: Offer
    counter: Offer | None = None
    agreement: Agreement | None = None


class Declined(Model):
    case_status: str
    failure_reason: str


class WebhookSettings(Model):
    url: str
    events: list[str]
    enabled: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    secret: str | None = None


class Delivery(Model):
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


class DeliveryPage(Model):
    items: list[Delivery]
    next_cursor: str | None


class RotatedCredentials(Model):
    client_id: str
    client_secret: str
    previous_valid_until: datetime | None


class WebhookEvent(Model):
    """A verified webhook: the event type, when it happened, its data, and the delivery's id."""

    webhook_id: str
    type: str
    timestamp: datetime
    data: dict[str, Any]
