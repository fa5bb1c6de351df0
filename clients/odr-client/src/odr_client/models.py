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


Day = date  # the field `Purchase.date` shadows the type inside its class


class Purchase(Model):
    """The purchase the complaint is about, as the consumer gave it; any part may be missing."""

    order_no: str | None = None
    date: Day | None = None
    amount_fen: int | None = None


class SharedEvidence(Model):
    """An attachment the consumer shared with the enterprise; `OdrClient.download_evidence` fetches it."""

    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    download_path: str


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
    purchase: Purchase | None = None
    sector: str | None = None
    category: str | None = None
    issue_type: str | None = None
    evidence: list[SharedEvidence] = []


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


class EvidenceRef(Model):
    """An attachment named in a webhook: download it with `OdrClient.download_evidence(case.evidence[i])`, or GET
    `/v1/merchant/complaints/{complaint_id}/evidence/{id}` with the enterprise's token."""

    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str


class ComplaintRouted(Model):
    """The data of `complaints.complaint.routed.v1`: a complaint the enterprise must now answer."""

    complaint_id: uuid.UUID
    case_no: str
    target: str
    merchant_id: uuid.UUID | None
    region_code: str
    complainant: Complainant
    request_type: str
    request_amount_fen: int | None
    facts: str
    due_date: date | None
    routed_at: datetime
    order_no: str | None = None
    purchase_date: date | None = None
    purchase_amount_fen: int | None = None
    sector: str | None = None
    category: str | None = None
    issue_type: str | None = None
    evidence: list[EvidenceRef] = []


ROUTED = "complaints.complaint.routed.v1"


class WebhookEvent(Model):
    """A verified webhook: the event type, when it happened, its data, and the delivery's id."""

    webhook_id: str
    type: str
    timestamp: datetime
    data: dict[str, Any]

    def complaint_routed(self) -> ComplaintRouted | None:
        """The typed data when this is a complaint routed to the enterprise, else None."""
        return ComplaintRouted.model_validate(self.data) if self.type == ROUTED else None
